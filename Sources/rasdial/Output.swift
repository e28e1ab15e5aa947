import Foundation
import Hayes
import RAS

/// What `rasdial` prints: plain text, or with `--json` a listing as one JSON array and anything else one JSON object per line on stdout
/// (errors included, as `{"error":NNN,"errorName":…,"errorMessage":…}`).
struct Output: Sendable {
    /// Whether to print JSON.
    let json: Bool

    /// A text line on stdout (text mode only).
    func text(_ line: String) {
        guard !json else { return }
        write(line)
    }

    /// A JSON object on stdout (JSON mode only).
    func object(_ value: some Encodable) {
        guard json else { return }
        write(Self.encode(value))
    }

    /// A text line on stderr (text mode only): progress notes that are not results.
    func note(_ line: String) {
        guard !json else { return }
        try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8))
    }

    /// A state change of a dial: `OpenPort (0)`, `ConnectDevice (2) error 676`, or the status object.
    func state(_ status: RasConnStatus) {
        text(status.state.description + (status.error.map { " error \($0.code)" } ?? ""))
        object(status)
    }

    /// The connections as a table, or one object each.
    func connections(_ connections: [RasConnection]) {
        list(connections, none: "No connections", header: ["HANDLE", "ENTRY", "TYPE", "DEVICE", "STATE"]) { connection in
            [connection.handle.description, connection.entryName, connection.deviceType.rawValue, connection.deviceName,
             connection.state.description + (connection.error.map { " error \($0.code)" } ?? "")]
        }
    }

    /// The listening lines as a table, or one object each.
    func listeners(_ lines: [RasListener]) {
        list(lines, none: "No listening lines", header: ["ENTRY", "DEVICE", "STATE", "CALLS", "LAST CALLER"]) { line in
            [line.entryName, line.deviceName, line.stateText, "\(line.callsTaken)", line.lastCaller.map(Self.caller) ?? "-"]
        }
    }

    /// A listening line's event of `--watch`: `ring Gateway 1`, `caller-id Gateway 5551234 "JOHN DOE"`,
    /// `answer Gateway 0x00000003 5551234`, `reject Gateway 5551234 (RejectCallers matches '555*')`,
    /// or the object `{"event":"ring",…}`.
    func lineEvent(_ event: RasListenerEvent) {
        text(Self.lineEventText(event))
        object(LineEventRecord(event))
    }

    /// A listening line's event as one line of text (see ``lineEvent(_:)``).
    static func lineEventText(_ event: RasListenerEvent) -> String {
        var words = [event.kind.rawValue, event.entryName]
        switch event.kind {
        case .ring: words.append("\(event.rings ?? 0)")
        case .callerID: words.append(event.callerID.map(Self.caller) ?? "unknown")
        case .answer:
            words += [event.handle?.description ?? "", event.callerID.map(Self.caller) ?? "unknown"]
        case .reject:
            words += [event.callerID.map(Self.caller) ?? "unknown", "(\(event.reason ?? "rejected"))"]
        case .modemProblem:
            words.append(event.error.map { "error \($0.code): \($0.detail ?? $0.message)" } ?? "")
        case .listening, .stopped: words.append(event.deviceName)
        }
        return words.joined(separator: " ")
    }

    /// A caller as text: the number (or private / unavailable / unknown), and the name in quotes.
    static func caller(_ caller: CallerID) -> String {
        caller.numberText + (caller.name.map { " \"\($0)\"" } ?? "")
    }

    /// The devices as a table (name, type, path, the modem's identity, whether it was
    /// probed and what the probe found), or one object each.
    func devices(_ devices: [RasDevice]) {
        list(devices, none: "No devices", header: ["DEVICE", "TYPE", "PATH", "IDENTITY", "PROBED"]) { device in
            let identity = [device.manufacturer, device.model].compactMap { $0 }.joined(separator: " ")
            return [device.deviceName, device.deviceType.rawValue, device.path, identity.isEmpty ? "-" : identity,
                    device.probed ? "yes (\(device.probe.rawValue))" : "no"]
        }
    }

    /// Records as one JSON array on one line (`[]` when empty: a listing is always valid
    /// JSON), or a table under `header`, or `none` when empty.
    private func list<Item: Encodable>(_ items: [Item], none: String, header: [String], row: (Item) -> [String]) {
        guard !json else {
            object(items)
            return
        }
        guard !items.isEmpty else {
            write(none)
            return
        }
        table([header] + items.map(row))
    }

    /// One connection's status, as `Key: value` lines or one object.
    func status(_ status: RasConnStatus) {
        guard !json else {
            object(status)
            return
        }
        var rows = [
            ["Handle:", status.handle.description], ["Entry:", status.entryName],
            ["Device:", "\(status.deviceType) \(status.deviceName)"], ["Phone number:", status.phoneNumber],
            ["Direction:", status.direction == .incoming
                ? "incoming from " + (status.callerID.map(Self.caller) ?? "unknown caller") : "outgoing"],
            ["State:", status.state.description],
            ["Error:", status.error.map { "\($0.code) \($0.name): \($0.message)" + ($0.detail.map { " (\($0))" } ?? "") } ?? "0"],
        ]
        if let rate = status.connectRate {
            rows.append(["Connect:", "\(rate)" + (status.connectProtocol.map { "/\($0)" } ?? "")])
        }
        rows.append(["Data path:", status.dataPath ?? "none"])
        if let projection = status.projection {
            rows.append(["Interface:", projection.interfaceName ?? "unknown"])
            rows.append(["Local IP:", projection.localAddress ?? "unknown"])
            rows.append(["Remote IP:", projection.remoteAddress ?? "unknown"])
            rows.append(["DNS:", projection.dnsServers.isEmpty ? "none" : projection.dnsServers.joined(separator: " ")])
        }
        table(rows)
    }

    /// One connection's statistics, as `Key: value` lines or one object.
    func statistics(_ statistics: RasConnectionStatistics, entryName: String) {
        guard !json else {
            object(statistics)
            return
        }
        func counted(_ value: Int?) -> String { value.map(String.init) ?? "unavailable (the driver does not count it)" }
        var rows = [
            ["Handle:", statistics.handle.description], ["Entry:", entryName],
            ["Bytes sent:", "\(statistics.bytesSent)"], ["Bytes received:", "\(statistics.bytesReceived)"],
            ["Chunks sent:", "\(statistics.chunksSent)"], ["Chunks received:", "\(statistics.chunksReceived)"],
            ["Connected for:", String(format: "%.3f s", Double(statistics.connectDurationMs) / 1000)],
        ]
        if let rate = statistics.connectRate {
            rows.append(["Connect:", "\(rate)" + (statistics.connectProtocol.map { "/\($0)" } ?? "")])
        }
        if let carrier = statistics.connectDetails?.carrierRate { rows.append(["Carrier:", "\(carrier)"]) }
        rows += [
            ["Framing errors:", counted(statistics.framingErrors)], ["Parity errors:", counted(statistics.parityErrors)],
            ["Overrun errors:", counted(statistics.overrunErrors)],
            ["Buffer overruns:", "\(statistics.bufferOverrunErrors)"],
        ]
        table(rows)
    }

    /// An error: `error NNN: message (detail)` on stderr, or the error object on stdout.
    func report(_ error: RasError) {
        if json {
            write(Self.encode(ErrorRecord(error)))
        } else {
            try? FileHandle.standardError.write(contentsOf: Data((error.description + "\n").utf8))
        }
    }

    /// Rows padded into columns.
    func table(_ rows: [[String]]) {
        for line in Self.columns(rows) { write(line) }
    }

    /// Rows padded into columns, as lines.
    static func columns(_ rows: [[String]]) -> [String] {
        let widths = rows.reduce(into: [Int]()) { widths, row in
            for (index, cell) in row.enumerated() {
                if index < widths.count { widths[index] = max(widths[index], cell.count) } else { widths.append(cell.count) }
            }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
    }

    func write(_ line: String) {
        try? FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8))
    }

    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value), let text = String(data: data, encoding: .utf8) else {
            return #"{"error":87,"errorName":"ERROR_INVALID_PARAMETER","errorMessage":"could not encode the output"}"#
        }
        return text
    }
}

/// An error as JSON: `{"error":676,"errorName":"ERROR_LINE_BUSY","errorMessage":"The line is busy.",
/// "errorDetail":"…"}` (detail only when there is one).
struct ErrorRecord: Encodable {
    let error: UInt32
    let errorName: String
    let errorMessage: String
    let errorDetail: String?

    init(_ error: RasError) {
        self.error = error.code
        errorName = error.name
        errorMessage = error.message
        errorDetail = error.detail
    }
}

/// A phonebook problem of `--entries` as JSON: the error object plus where it is —
/// `{"error":625,"errorName":"ERROR_CORRUPT_PHONEBOOK","errorMessage":…,"errorDetail":…,
/// "phonebookPath":"…","line":7,"name":"Work"}` (`line` absent for a whole file, `name` for a
/// line that belongs to no entry).
struct ProblemRecord: Encodable {
    let error: UInt32
    let errorName: String
    let errorMessage: String
    let errorDetail: String?
    let phonebookPath: String
    let line: Int?
    let name: String?

    init(_ problem: RasPhonebookProblem) {
        error = problem.error.code
        errorName = problem.error.name
        errorMessage = problem.error.message
        errorDetail = problem.error.detail
        phonebookPath = problem.phonebookPath
        line = problem.line
        name = problem.name
    }
}

/// The end of a hang-up as JSON: `{"handle":"0x00000001","entryName":"Work","hungUp":true}`.
struct HangUpRecord: Encodable {
    let handle: RasConnectionHandle
    let entryName: String
    let hungUp = true
}

/// A connection event as JSON: `{"event":"connected",…the connection's fields…}`; the first
/// line of `--watch` is `{"event":"watching","socket":…}`.
struct EventRecord: Encodable {
    let event: String
    let connection: RasConnection?
    let socket: String?

    private enum Keys: String, CodingKey { case event, socket }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(event, forKey: .event)
        try container.encodeIfPresent(socket, forKey: .socket)
        try connection?.encode(to: encoder)
    }
}

/// A listening line's event as JSON: `{"event":"caller-id","entryName":…,"deviceName":…,
/// "rings":1,"callerID":{…}}` (the fields of the event that apply).
struct LineEventRecord: Encodable {
    let value: RasListenerEvent

    init(_ value: RasListenerEvent) { self.value = value }

    private enum Keys: String, CodingKey { case event }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(value.kind.rawValue, forKey: .event)
        try value.encode(to: encoder)
    }
}
