import Hayes

/// An opaque connection handle (`HRASCONN`).
///
/// Printed as `0x` and at least eight lowercase hex digits (`0x0000002a`); ``init(string:)``
/// parses that form back, and also a plain decimal number. `Codable` uses the printed string
/// (decoding also accepts a JSON number). Handing out unique, never-reused values is the
/// connection manager's job.
public struct RasConnectionHandle: RawRepresentable, Hashable, Comparable, Sendable, Codable,
    CustomStringConvertible
{
    /// The handle's number.
    public let rawValue: UInt64

    /// Wraps a handle number.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Parses `0x…` (hexadecimal, any case) or plain decimal; `nil` for anything else.
    public init?(string: String) {
        let text = string.trimmingSpaces
        let value: UInt64?
        if text.lowercased().hasPrefix("0x") {
            value = UInt64(text.dropFirst(2), radix: 16)
        } else {
            value = UInt64(text, radix: 10)
        }
        guard let value else { return nil }
        rawValue = value
    }

    /// `0x` followed by at least eight lowercase hex digits, e.g. `0x0000002a`.
    public var description: String {
        let hex = String(rawValue, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - hex.count)) + hex
    }

    /// Orders handles by number.
    public static func < (lhs: RasConnectionHandle, rhs: RasConnectionHandle) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// Decodes the printed form (`"0x0000002a"`) or a JSON number.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(UInt64.self) {
            rawValue = number
            return
        }
        let text = try container.decode(String.self)
        guard let handle = RasConnectionHandle(string: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not a connection handle")
        }
        self = handle
    }

    /// Encodes the printed form, e.g. `"0x0000002a"`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A RAS device type (`szDeviceType`, e.g. `RASDT_Modem` = `"modem"`), encoded as its string.
public struct RasDeviceType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The type as RAS spells it, e.g. `"modem"`.
    public let rawValue: String

    /// Wraps a device type string.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// `"modem"`: a Hayes modem on a serial port.
    public static let modem = RasDeviceType(rawValue: "modem")

    /// The raw string, e.g. `"modem"`.
    public var description: String { rawValue }

    /// Decodes a plain string.
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes a plain string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// What the modem said about the link before `CONNECT` (all optional): the `CARRIER` line,
/// the error-control and compression reports, and the modulation.
public struct RasConnectDetails: Sendable, Hashable, Codable {
    /// The line (DCE) rate from `CARRIER <rate>`, in bits per second.
    public var carrierRate: Int?
    /// Error control from `PROTOCOL:` or `+ER:`, e.g. `"LAPM"`.
    public var errorControl: String?
    /// Compression from `COMPRESSION:` or `+DR:`, e.g. `"V42BIS"`.
    public var compression: String?
    /// Modulation from `+MCR:`, e.g. `"V34"`.
    public var modulation: String?

    /// Makes a details record; every field defaults to unknown.
    public init(carrierRate: Int? = nil, errorControl: String? = nil, compression: String? = nil,
                modulation: String? = nil) {
        self.carrierRate = carrierRate
        self.errorControl = errorControl
        self.compression = compression
        self.modulation = modulation
    }
}

/// The status of one connection (`RASCONNSTATUS`, plus its handle and entry name so that a
/// JSON record stands on its own).
///
/// JSON shape (optional fields are left out when unknown):
/// `{"handle":"0x00000001","entryName":"Work","state":"Connected","stateCode":8192,"error":0,
/// "errorName":"","errorMessage":"","deviceType":"modem","deviceName":"/dev/ttyS0",
/// "phoneNumber":"5551234","connectRate":33600,"connectProtocol":"V42BIS",
/// "connectDetails":{…}}`; a failure adds `"errorDetail"` when the error has a detail.
public struct RasConnStatus: Sendable, Equatable, Codable {
    /// The connection this status describes.
    public var handle: RasConnectionHandle
    /// The phonebook entry name, or `"."` + number for an entry-less dial.
    public var entryName: String
    /// The current connection state.
    public var state: RasConnState
    /// Why the dial failed or the connection ended; `nil` when there is no error (never ``RasError/success``).
    public var error: RasError?
    /// The device type, normally ``RasDeviceType/modem``.
    public var deviceType: RasDeviceType
    /// The device name, e.g. the modem's port path or its phonebook name.
    public var deviceName: String
    /// The number being dialed or connected to.
    public var phoneNumber: String
    /// The rate from `CONNECT <rate>`, in bits per second.
    public var connectRate: Int?
    /// The text after the rate in `CONNECT <rate>/<protocol>`, e.g. `"ARQ/V42BIS"`.
    public var connectProtocol: String?
    /// Carrier rate, error control, compression and modulation, when the modem reported them.
    public var connectDetails: RasConnectDetails?
    /// The connection's data path: a pty a program opens like a serial port to use the
    /// line (`nil` while there is none: before `CONNECT` and after the call ended).
    public var dataPath: String?
    /// What PPP negotiated (`RasGetProjectionInfo`), for a `Framing=PPP` connection once IP is up.
    public var projection: RasProjection?
    /// Whether this connection was dialed or answered.
    public var direction: RasConnectionDirection = .outgoing
    /// Who called, for an answered call whose caller ID came.
    public var callerID: CallerID?

    /// Makes a status record; an error with code 0 is stored as `nil`.
    public init(handle: RasConnectionHandle, entryName: String, state: RasConnState, error: RasError? = nil,
                deviceType: RasDeviceType = .modem, deviceName: String, phoneNumber: String,
                connectRate: Int? = nil, connectProtocol: String? = nil,
                connectDetails: RasConnectDetails? = nil, dataPath: String? = nil, projection: RasProjection? = nil) {
        self.handle = handle
        self.entryName = entryName
        self.state = state
        self.error = error?.code == 0 ? nil : error
        self.deviceType = deviceType
        self.deviceName = deviceName
        self.phoneNumber = phoneNumber
        self.connectRate = connectRate
        self.connectProtocol = connectProtocol
        self.connectDetails = connectDetails
        self.dataPath = dataPath
        self.projection = projection
    }

    /// The status of a connection whose dial machine is in `dialState`: its state, error and
    /// connect facts, plus the identity fields the machine does not know.
    public init(handle: RasConnectionHandle, entryName: String, deviceType: RasDeviceType = .modem,
                deviceName: String, phoneNumber: String, dialState: DialMachine.State, dataPath: String? = nil) {
        self.init(handle: handle, entryName: entryName, state: dialState.connectionState, error: dialState.error,
                  deviceType: deviceType, deviceName: deviceName, phoneNumber: phoneNumber,
                  connectRate: dialState.connectRate, connectProtocol: dialState.connectProtocol,
                  connectDetails: dialState.connectDetails, dataPath: dataPath, projection: dialState.projection)
    }

    private enum CodingKeys: String, CodingKey {
        case handle, entryName, deviceType, deviceName, phoneNumber, connectRate, connectProtocol,
             connectDetails, dataPath, projection, direction, callerID
    }

    /// Decodes the JSON shape described on the type.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let stateAndError = try StateAndErrorFields.decode(from: decoder)
        handle = try container.decode(RasConnectionHandle.self, forKey: .handle)
        entryName = try container.decode(String.self, forKey: .entryName)
        state = stateAndError.state
        error = stateAndError.error
        deviceType = try container.decode(RasDeviceType.self, forKey: .deviceType)
        deviceName = try container.decode(String.self, forKey: .deviceName)
        phoneNumber = try container.decode(String.self, forKey: .phoneNumber)
        connectRate = try container.decodeIfPresent(Int.self, forKey: .connectRate)
        connectProtocol = try container.decodeIfPresent(String.self, forKey: .connectProtocol)
        connectDetails = try container.decodeIfPresent(RasConnectDetails.self, forKey: .connectDetails)
        dataPath = try container.decodeIfPresent(String.self, forKey: .dataPath)
        projection = try container.decodeIfPresent(RasProjection.self, forKey: .projection)
        direction = try container.decodeIfPresent(RasConnectionDirection.self, forKey: .direction) ?? .outgoing
        callerID = try container.decodeIfPresent(CallerID.self, forKey: .callerID)
    }

    /// Encodes the JSON shape described on the type.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(handle, forKey: .handle)
        try container.encode(entryName, forKey: .entryName)
        try StateAndErrorFields.encode(state: state, error: error, to: encoder)
        try container.encode(deviceType, forKey: .deviceType)
        try container.encode(deviceName, forKey: .deviceName)
        try container.encode(phoneNumber, forKey: .phoneNumber)
        try container.encodeIfPresent(connectRate, forKey: .connectRate)
        try container.encodeIfPresent(connectProtocol, forKey: .connectProtocol)
        try container.encodeIfPresent(connectDetails, forKey: .connectDetails)
        // Always present, null when there is none: a program looks for it.
        try container.encode(dataPath, forKey: .dataPath)
        try container.encodeIfPresent(projection, forKey: .projection)
        try container.encode(direction, forKey: .direction)
        try container.encodeIfPresent(callerID, forKey: .callerID)
    }
}

/// One connection as `enumConnections` lists it (`RASCONN`), extended with its state and
/// error so that dials in progress and failed dials (still waiting for their hang-up) show too.
///
/// JSON shape: `{"handle":"0x00000001","entryName":".5551234","deviceType":"modem",
/// "deviceName":"/dev/ttyUSB0","phonebookPath":"/etc/swift-ras/rasphone.pbk",
/// "phoneNumber":"5551234","state":"Disconnected","stateCode":8193,"error":676,
/// "errorName":"ERROR_LINE_BUSY","errorMessage":"The line is busy."}`; `phonebookPath` is
/// left out for entry-less dials and `errorDetail` is added when the error has a detail.
public struct RasConnection: Sendable, Equatable, Codable {
    /// The connection's handle.
    public var handle: RasConnectionHandle
    /// The phonebook entry name, or `"."` + number for an entry-less dial (e.g. `".5551234"`).
    public var entryName: String
    /// The device type, normally ``RasDeviceType/modem``.
    public var deviceType: RasDeviceType
    /// The device name, e.g. the modem's port path or its phonebook name.
    public var deviceName: String
    /// The phonebook the entry came from; `nil` for an entry-less dial.
    public var phonebookPath: String?
    /// The number dialed.
    public var phoneNumber: String
    /// The current connection state.
    public var state: RasConnState
    /// Why the dial failed or the connection ended; `nil` when there is no error (never ``RasError/success``).
    public var error: RasError?
    /// Whether this connection was dialed or answered.
    public var direction: RasConnectionDirection = .outgoing
    /// Who called, for an answered call whose caller ID came.
    public var callerID: CallerID?

    /// Makes a connection record; an error with code 0 is stored as `nil`.
    public init(handle: RasConnectionHandle, entryName: String, deviceType: RasDeviceType = .modem,
                deviceName: String, phonebookPath: String? = nil, phoneNumber: String,
                state: RasConnState, error: RasError? = nil) {
        self.handle = handle
        self.entryName = entryName
        self.deviceType = deviceType
        self.deviceName = deviceName
        self.phonebookPath = phonebookPath
        self.phoneNumber = phoneNumber
        self.state = state
        self.error = error?.code == 0 ? nil : error
    }

    private enum CodingKeys: String, CodingKey {
        case handle, entryName, deviceType, deviceName, phonebookPath, phoneNumber, direction, callerID
    }

    /// Decodes the JSON shape described on the type.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let stateAndError = try StateAndErrorFields.decode(from: decoder)
        handle = try container.decode(RasConnectionHandle.self, forKey: .handle)
        entryName = try container.decode(String.self, forKey: .entryName)
        deviceType = try container.decode(RasDeviceType.self, forKey: .deviceType)
        deviceName = try container.decode(String.self, forKey: .deviceName)
        phonebookPath = try container.decodeIfPresent(String.self, forKey: .phonebookPath)
        phoneNumber = try container.decode(String.self, forKey: .phoneNumber)
        state = stateAndError.state
        error = stateAndError.error
        direction = try container.decodeIfPresent(RasConnectionDirection.self, forKey: .direction) ?? .outgoing
        callerID = try container.decodeIfPresent(CallerID.self, forKey: .callerID)
    }

    /// Encodes the JSON shape described on the type.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(handle, forKey: .handle)
        try container.encode(entryName, forKey: .entryName)
        try container.encode(deviceType, forKey: .deviceType)
        try container.encode(deviceName, forKey: .deviceName)
        try container.encodeIfPresent(phonebookPath, forKey: .phonebookPath)
        try container.encode(phoneNumber, forKey: .phoneNumber)
        try StateAndErrorFields.encode(state: state, error: error, to: encoder)
        try container.encode(direction, forKey: .direction)
        try container.encodeIfPresent(callerID, forKey: .callerID)
    }
}

/// The shared JSON fields for a state and an error: `state` (name), `stateCode` (number),
/// `error` (number, 0 when none), `errorName` and `errorMessage` (empty when none) and
/// `errorDetail` (only when the error has one). Decoding trusts `stateCode` when present,
/// else the `state` name.
enum StateAndErrorFields {
    private enum Keys: String, CodingKey { case state, stateCode, error, errorName, errorMessage, errorDetail }

    static func encode(state: RasConnState, error: RasError?, to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(state.name, forKey: .state)
        try container.encode(state.rawValue, forKey: .stateCode)
        try container.encode(error?.code ?? 0, forKey: .error)
        try container.encode(error?.name ?? "", forKey: .errorName)
        try container.encode(error?.message ?? "", forKey: .errorMessage)
        try container.encodeIfPresent(error?.detail, forKey: .errorDetail)
    }

    static func decode(from decoder: any Decoder) throws -> (state: RasConnState, error: RasError?) {
        let container = try decoder.container(keyedBy: Keys.self)
        let state: RasConnState
        if let code = try container.decodeIfPresent(UInt32.self, forKey: .stateCode) {
            guard let known = RasConnState(rawValue: code) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .stateCode, in: container, debugDescription: "\(code) is not a RASCONNSTATE")
            }
            state = known
        } else {
            let name = try container.decode(String.self, forKey: .state)
            guard let known = RasConnState(name: name) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .state, in: container, debugDescription: "'\(name)' is not a RASCONNSTATE")
            }
            state = known
        }
        let code = try container.decodeIfPresent(UInt32.self, forKey: .error) ?? 0
        let detail = try container.decodeIfPresent(String.self, forKey: .errorDetail)
        return (state, code == 0 ? nil : RasError(code: code, detail: detail))
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }),
              let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}

/// The statistics of one connection (`RasGetConnectionStatistics`, `RAS_STATS`).
///
/// JSON shape: `{"handle":"0x00000001","bytesSent":10,"bytesReceived":20,"chunksSent":1,
/// "chunksReceived":2,"connectDurationMs":1500,"connectRate":33600,"connectProtocol":"LAPM",
/// "lineErrorsAvailable":false,"bufferOverrunErrors":0}`; the driver's `framingErrors`,
/// `parityErrors` and `overrunErrors` are present only when it counts them.
public struct RasConnectionStatistics: Sendable, Equatable, Codable {
    /// The connection.
    public var handle: RasConnectionHandle
    /// Bytes from the data path to the modem (`dwBytesXmited`).
    public var bytesSent: Int
    /// Bytes from the modem to the data path (`dwBytesRcved`).
    public var bytesReceived: Int
    /// Writes to the modem (`dwFramesXmited`: the relay's chunks, not PPP frames).
    public var chunksSent: Int
    /// Reads from the modem (`dwFramesRcved`).
    public var chunksReceived: Int
    /// Milliseconds since `CONNECT` (until the call ended, for an ended one); 0 before.
    public var connectDurationMs: Int
    /// The rate from `CONNECT <rate>` (`dwBps`).
    public var connectRate: Int?
    /// The protocol text from `CONNECT <rate>/<protocol>`.
    public var connectProtocol: String?
    /// Carrier rate, error control, compression and modulation from the modem's reports.
    public var connectDetails: RasConnectDetails?
    /// Whether the port's driver counts line errors (`TIOCGICOUNT`; a pty does not).
    public var lineErrorsAvailable: Bool
    /// Framing errors since `CONNECT` (`dwFramingErrors`); `nil`: the driver does not count them.
    public var framingErrors: Int?
    /// Parity errors (`nil`: not counted by the driver).
    public var parityErrors: Int?
    /// UART overruns (`dwHardwareOverrunErrors`; `nil`: not counted by the driver).
    public var overrunErrors: Int?
    /// Bytes lost to full buffers (`dwBufferOverrunErrors`): what the relay dropped for a
    /// data path nobody read, plus the driver's count when it keeps one.
    public var bufferOverrunErrors: Int

    /// A statistics record.
    public init(handle: RasConnectionHandle, bytesSent: Int = 0, bytesReceived: Int = 0, chunksSent: Int = 0,
                chunksReceived: Int = 0, connectDurationMs: Int = 0, connectRate: Int? = nil,
                connectProtocol: String? = nil, connectDetails: RasConnectDetails? = nil,
                lineErrorsAvailable: Bool = false, framingErrors: Int? = nil, parityErrors: Int? = nil,
                overrunErrors: Int? = nil, bufferOverrunErrors: Int = 0) {
        self.handle = handle
        self.bytesSent = bytesSent
        self.bytesReceived = bytesReceived
        self.chunksSent = chunksSent
        self.chunksReceived = chunksReceived
        self.connectDurationMs = connectDurationMs
        self.connectRate = connectRate
        self.connectProtocol = connectProtocol
        self.connectDetails = connectDetails
        self.lineErrorsAvailable = lineErrorsAvailable
        self.framingErrors = framingErrors
        self.parityErrors = parityErrors
        self.overrunErrors = overrunErrors
        self.bufferOverrunErrors = bufferOverrunErrors
    }
}
