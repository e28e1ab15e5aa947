/// A RAS error: the Windows error number, its symbolic name, our own message, and an
/// optional detail that says what exactly went wrong ("port /dev/ttyS0 held by PID 1234").
///
/// Every code listed in RAS-REFERENCE §2 (plus 749 `ERROR_BAD_PHONE_NUMBER`) has a static
/// member, e.g. ``lineBusy``. ``init(code:detail:)`` accepts any number; unknown numbers get a
/// generic message. Two errors are equal when their codes are equal, whatever their details.
///
/// `Codable` shape: `{"code":676,"name":"ERROR_LINE_BUSY","message":"The line is busy.",
/// "detail":"…"}` (`detail` only when present); decoding reads `code` and `detail`.
public struct RasError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The RAS error number (a Windows `DWORD`), e.g. 676.
    public let code: UInt32
    /// Context for this occurrence, e.g. a path and line number; `nil` when there is none.
    public var detail: String?

    /// Makes the error with number `code`; any number is accepted.
    public init(code: UInt32, detail: String? = nil) {
        self.code = code
        self.detail = detail
    }

    /// The same error with `detail` as its detail.
    public func with(detail: String?) -> RasError { RasError(code: code, detail: detail) }

    /// The symbolic name, e.g. `"ERROR_LINE_BUSY"`; `"ERROR_UNKNOWN"` for a number we do not know.
    public var name: String { Self.catalogue[code]?.name ?? "ERROR_UNKNOWN" }

    /// Our human-readable message (never empty), e.g. `"The line is busy."`.
    public var message: String {
        Self.catalogue[code]?.message ?? "Remote access error \(code) (no description is available)."
    }

    /// True when ``code`` is one of the codes this module names (see ``known``).
    public var isKnown: Bool { Self.catalogue[code] != nil }

    /// `error 676: The line is busy.`, followed by ` (detail)` when there is a detail.
    public var description: String {
        let base = "error \(code): \(message)"
        guard let detail, !detail.isEmpty else { return base }
        return "\(base) (\(detail))"
    }

    /// Equal when the codes are equal; the detail does not matter.
    public static func == (lhs: RasError, rhs: RasError) -> Bool { lhs.code == rhs.code }

    /// Hashes the code only, matching `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    private enum CodingKeys: String, CodingKey { case code, name, message, detail }

    /// Decodes `code` and `detail`; `name` and `message` are derived, not trusted.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        code = try container.decode(UInt32.self, forKey: .code)
        detail = try container.decodeIfPresent(String.self, forKey: .detail)
    }

    /// Encodes `code`, `name`, `message` and, when present, `detail`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(code, forKey: .code)
        try container.encode(name, forKey: .name)
        try container.encode(message, forKey: .message)
        try container.encodeIfPresent(detail, forKey: .detail)
    }

    // MARK: Known codes

    /// 0 `ERROR_SUCCESS`: no error.
    public static let success = RasError(code: 0)
    /// 5 `ERROR_ACCESS_DENIED`: the caller may not do this.
    public static let accessDenied = RasError(code: 5)
    /// 6 `ERROR_INVALID_HANDLE`: no such connection, or its teardown has finished.
    public static let invalidHandle = RasError(code: 6)
    /// 8 `ERROR_NOT_ENOUGH_MEMORY`: out of memory.
    public static let notEnoughMemory = RasError(code: 8)
    /// 87 `ERROR_INVALID_PARAMETER`: a bad or missing argument.
    public static let invalidParameter = RasError(code: 87)
    /// 122 `ERROR_INSUFFICIENT_BUFFER`: the error-string buffer is too small.
    public static let insufficientBuffer = RasError(code: 122)
    /// 123 `ERROR_INVALID_NAME`: the entry name is not valid.
    public static let invalidName = RasError(code: 123)
    /// 183 `ERROR_ALREADY_EXISTS`: the entry name is taken.
    public static let alreadyExists = RasError(code: 183)
    /// 600 `PENDING`: the operation is in progress.
    public static let pending = RasError(code: 600)
    /// 602 `ERROR_PORT_ALREADY_OPEN`: the port is already open.
    public static let portAlreadyOpen = RasError(code: 602)
    /// 603 `ERROR_BUFFER_TOO_SMALL`: the buffer is too small.
    public static let bufferTooSmall = RasError(code: 603)
    /// 608 `ERROR_DEVICE_DOES_NOT_EXIST`: no such device.
    public static let deviceDoesNotExist = RasError(code: 608)
    /// 609 `ERROR_DEVICETYPE_DOES_NOT_EXIST`: the path is not a device of a type RAS dials
    /// (not a serial port).
    public static let deviceTypeDoesNotExist = RasError(code: 609)
    /// 617 `ERROR_ALREADY_DISCONNECTING`: the connection is already being hung up.
    public static let alreadyDisconnecting = RasError(code: 617)
    /// 618 `ERROR_PORT_NOT_OPEN`: the port is not open.
    public static let portNotOpen = RasError(code: 618)
    /// 619 `ERROR_PORT_DISCONNECTED`: the port is disconnected.
    public static let portDisconnected = RasError(code: 619)
    /// 621 `ERROR_CANNOT_OPEN_PHONEBOOK`: the phonebook file cannot be opened.
    public static let cannotOpenPhonebook = RasError(code: 621)
    /// 622 `ERROR_CANNOT_LOAD_PHONEBOOK`: the phonebook file cannot be read (bad encoding).
    public static let cannotLoadPhonebook = RasError(code: 622)
    /// 623 `ERROR_CANNOT_FIND_PHONEBOOK_ENTRY`: no such phonebook entry.
    public static let cannotFindPhonebookEntry = RasError(code: 623)
    /// 625 `ERROR_CORRUPT_PHONEBOOK`: the phonebook content is invalid.
    public static let corruptPhonebook = RasError(code: 625)
    /// 628 `ERROR_DISCONNECTION`: the port was disconnected.
    public static let disconnection = RasError(code: 628)
    /// 629 `ERROR_REMOTE_DISCONNECTION`: the remote end hung up (carrier lost).
    public static let remoteDisconnection = RasError(code: 629)
    /// 630 `ERROR_HARDWARE_FAILURE`: a hardware failure (unplug, I/O error) ended the connection.
    public static let hardwareFailure = RasError(code: 630)
    /// 631 `ERROR_USER_DISCONNECTION`: the user hung up.
    public static let userDisconnection = RasError(code: 631)
    /// 632 `ERROR_INVALID_SIZE`: the structure size is not a known version.
    public static let invalidSize = RasError(code: 632)
    /// 633 `ERROR_PORT_NOT_AVAILABLE`: the port is in use or not enabled for dial-out.
    public static let portNotAvailable = RasError(code: 633)
    /// 638 `ERROR_REQUEST_TIMEOUT`: the request timed out (pppd: the peer stopped answering
    /// LCP echo requests).
    public static let requestTimeout = RasError(code: 638)
    /// 651 `ERROR_FROM_DEVICE`: the modem reported an error.
    public static let fromDevice = RasError(code: 651)
    /// 652 `ERROR_UNRECOGNIZED_RESPONSE`: the modem sent a response we do not understand.
    public static let unrecognizedResponse = RasError(code: 652)
    /// 666 `ERROR_DEVICE_NOT_READY`: the modem is not responding.
    public static let deviceNotReady = RasError(code: 666)
    /// 668 `ERROR_NO_CONNECTION`: the connection dropped.
    public static let noConnection = RasError(code: 668)
    /// 676 `ERROR_LINE_BUSY`: the line is busy.
    public static let lineBusy = RasError(code: 676)
    /// 677 `ERROR_VOICE_ANSWER`: a person answered.
    public static let voiceAnswer = RasError(code: 677)
    /// 678 `ERROR_NO_ANSWER`: nobody answered.
    public static let noAnswer = RasError(code: 678)
    /// 679 `ERROR_NO_CARRIER`: no carrier was detected.
    public static let noCarrier = RasError(code: 679)
    /// 680 `ERROR_NO_DIALTONE`: there is no dial tone.
    public static let noDialtone = RasError(code: 680)
    /// 681 `ERROR_IN_COMMAND`: a general modem error (old Windows versions only).
    public static let inCommand = RasError(code: 681)
    /// 691 `ERROR_AUTHENTICATION_FAILURE`: bad user name or password.
    public static let authenticationFailure = RasError(code: 691)
    /// 703 `ERROR_INTERACTIVE_MODE`: the dial needs user input but pausing is off.
    public static let interactiveMode = RasError(code: 703)
    /// 710 `ERROR_OVERRUN`: serial overruns.
    public static let overrun = RasError(code: 710)
    /// 711 `ERROR_RASMAN_CANNOT_INITIALIZE`: the connection manager service cannot be reached
    /// (no `rasmand` on the socket, or it went away).
    public static let connectionManagerUnavailable = RasError(code: 711)
    /// 720 `ERROR_PPP_NO_PROTOCOLS_CONFIGURED`: PPP cannot run (no kernel PPP, pppd missing).
    public static let pppNoProtocolsConfigured = RasError(code: 720)
    /// 732 `ERROR_PPP_NOT_CONVERGING`: the two ends could not agree on PPP control protocols.
    public static let pppNotConverging = RasError(code: 732)
    /// 737 `ERROR_PPP_LOOPBACK_DETECTED`: the line loops back to us.
    public static let pppLoopbackDetected = RasError(code: 737)
    /// 749 `ERROR_BAD_PHONE_NUMBER`: the phone number cannot be dialed.
    public static let badPhoneNumber = RasError(code: 749)
    /// 753 `ERROR_HANGUP_FAILED`: the connection cannot be hung up.
    public static let hangupFailed = RasError(code: 753)
    /// 756 `ERROR_DIAL_ALREADY_IN_PROGRESS`: the entry is already being dialed.
    public static let dialAlreadyInProgress = RasError(code: 756)
    /// 828 `ERROR_IDLE_TIMEOUT`: the idle timeout ended the connection.
    public static let idleTimeout = RasError(code: 828)
    /// 829 `ERROR_LINK_FAILURE`: a link failure ended the connection.
    public static let linkFailure = RasError(code: 829)

    /// Every error this module names, in code order.
    public static var known: [RasError] { catalogue.keys.sorted().map { RasError(code: $0) } }

    private static let catalogue: [UInt32: (name: String, message: String)] = [
        0: ("ERROR_SUCCESS", "The operation completed successfully."),
        5: ("ERROR_ACCESS_DENIED", "Access is denied."),
        6: ("ERROR_INVALID_HANDLE", "There is no such connection, or it has been hung up and deleted."),
        8: ("ERROR_NOT_ENOUGH_MEMORY", "There is not enough memory."),
        87: ("ERROR_INVALID_PARAMETER", "A parameter is invalid."),
        122: ("ERROR_INSUFFICIENT_BUFFER", "The buffer for the error text is too small."),
        123: ("ERROR_INVALID_NAME", "The entry name is not valid."),
        183: ("ERROR_ALREADY_EXISTS", "An entry with this name already exists."),
        600: ("PENDING", "The operation is still in progress."),
        602: ("ERROR_PORT_ALREADY_OPEN", "The port is already open."),
        603: ("ERROR_BUFFER_TOO_SMALL", "The buffer is too small."),
        608: ("ERROR_DEVICE_DOES_NOT_EXIST", "The device does not exist."),
        609: ("ERROR_DEVICETYPE_DOES_NOT_EXIST", "The device type does not exist."),
        617: ("ERROR_ALREADY_DISCONNECTING", "The connection is already being disconnected."),
        618: ("ERROR_PORT_NOT_OPEN", "The port is not open."),
        619: ("ERROR_PORT_DISCONNECTED", "The port is disconnected."),
        621: ("ERROR_CANNOT_OPEN_PHONEBOOK", "The phonebook file cannot be opened."),
        622: ("ERROR_CANNOT_LOAD_PHONEBOOK", "The phonebook file cannot be read; it must be UTF-8 or ASCII text."),
        623: ("ERROR_CANNOT_FIND_PHONEBOOK_ENTRY", "The phonebook entry does not exist."),
        625: ("ERROR_CORRUPT_PHONEBOOK", "The phonebook file is corrupt."),
        628: ("ERROR_DISCONNECTION", "The port was disconnected."),
        629: ("ERROR_REMOTE_DISCONNECTION", "The remote end hung up."),
        630: ("ERROR_HARDWARE_FAILURE", "The connection ended because of a hardware failure."),
        631: ("ERROR_USER_DISCONNECTION", "The connection was hung up by the user."),
        632: ("ERROR_INVALID_SIZE", "The structure size is not valid."),
        633: ("ERROR_PORT_NOT_AVAILABLE", "The port is already in use or is not set up for dialing out."),
        638: ("ERROR_REQUEST_TIMEOUT", "The request has timed out: the remote computer stopped answering."),
        651: ("ERROR_FROM_DEVICE", "The modem reported an error."),
        652: ("ERROR_UNRECOGNIZED_RESPONSE", "The modem sent a response that was not recognized."),
        666: ("ERROR_DEVICE_NOT_READY", "The modem is not responding."),
        668: ("ERROR_NO_CONNECTION", "The connection was dropped."),
        676: ("ERROR_LINE_BUSY", "The line is busy."),
        677: ("ERROR_VOICE_ANSWER", "A person answered instead of a modem."),
        678: ("ERROR_NO_ANSWER", "There was no answer."),
        679: ("ERROR_NO_CARRIER", "No carrier was detected."),
        680: ("ERROR_NO_DIALTONE", "There is no dial tone."),
        681: ("ERROR_IN_COMMAND", "The modem reported a general error."),
        691: ("ERROR_AUTHENTICATION_FAILURE", "The user name or password is not valid."),
        703: ("ERROR_INTERACTIVE_MODE", "The connection needs input from the user."),
        710: ("ERROR_OVERRUN", "Serial overrun errors occurred."),
        711: ("ERROR_RASMAN_CANNOT_INITIALIZE", "The connection manager service (rasmand) cannot be reached."),
        720: ("ERROR_PPP_NO_PROTOCOLS_CONFIGURED", "PPP cannot run on this computer (no PPP support or no pppd)."),
        732: ("ERROR_PPP_NOT_CONVERGING", "This computer and the remote computer could not agree on PPP control protocols."),
        737: ("ERROR_PPP_LOOPBACK_DETECTED", "A loopback was detected: the line is connected back to this computer."),
        749: ("ERROR_BAD_PHONE_NUMBER", "The phone number cannot be dialed."),
        753: ("ERROR_HANGUP_FAILED", "The connection cannot be hung up here."),
        756: ("ERROR_DIAL_ALREADY_IN_PROGRESS", "This entry is already being dialed."),
        828: ("ERROR_IDLE_TIMEOUT", "The connection was idle for too long."),
        829: ("ERROR_LINK_FAILURE", "The link failed."),
    ]
}
