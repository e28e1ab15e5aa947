import FakeModem
import Serial
import SystemIO

/// A client of a ``NetworkFrontEnd`` driven by hand: raw bytes, or Telnet decoded with the
/// project's codec (data collected apart from the commands, every wire byte kept too).
final class NetworkClient {
    let connection: TCPConnection
    private var decoder: Telnet.Decoder?
    /// Every byte received, as it came over the wire.
    private(set) var wire: [UInt8] = []
    private var data: [UInt8] = []
    /// Telnet commands, negotiations and subnegotiations not yet taken.
    private var pending: [Telnet.Event] = []
    private(set) var peerClosed = false

    init(port: Int, telnet: Bool = false) async throws {
        connection = try await TCPConnection.connect(host: "127.0.0.1", port: port, deadline: .now + .seconds(3))
        decoder = telnet ? Telnet.Decoder(binary: true) : nil
    }

    deinit { connection.close() }

    func close() { connection.close() }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) async throws { try await connection.write(bytes, deadline: .now + .seconds(3)) }

    /// Sends a COM-PORT-OPTION command.
    func send(_ command: ComPort.Command, _ value: [UInt8] = []) async throws {
        try await send(ComPort.Message(command, fromServer: false, value: value).encoded)
    }

    /// Reads what arrives until `deadline`; `false` when nothing came by then or the server
    /// closed the connection.
    private func pump(until deadline: ContinuousClock.Instant) async throws -> Bool {
        guard !peerClosed else { return false }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let result = Result { () throws(SystemError) -> Int? in try connection.readNow(into: &buffer) }
            if case .failure(.hangUp) = result {
                peerClosed = true
                return false
            }
            if let count = try result.get() {
                let bytes = Array(buffer.prefix(count))
                wire += bytes
                if var telnet = decoder {
                    for event in telnet.decode(bytes) {
                        if case .data(let payload) = event { data += payload } else { pending.append(event) }
                    }
                    decoder = telnet
                } else {
                    data += bytes
                }
                return true
            }
            guard ContinuousClock.now < deadline, try await connection.waitReadable(deadline: deadline) else { return false }
        }
    }

    /// Reads data until `pattern` has arrived; returns everything up to and including it.
    func readBytes(until pattern: [UInt8], timeout: Duration = .seconds(4)) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let range = data.firstRange(of: pattern) {
                defer { data.removeFirst(range.upperBound) }
                return Array(data[..<range.upperBound])
            }
            guard try await pump(until: deadline) else {
                throw ClientTimeout(expected: String(decoding: pattern, as: UTF8.self), received: data)
            }
        }
    }

    @discardableResult
    func read(until text: String, timeout: Duration = .seconds(4)) async throws -> String {
        String(decoding: try await readBytes(until: Array(text.utf8), timeout: timeout), as: UTF8.self)
    }

    /// Sends a command line and reads the answer up to `expect`.
    @discardableResult
    func command(_ line: String, expect: String = "OK\r\n", timeout: Duration = .seconds(4)) async throws -> String {
        try await send(line + "\r")
        return try await read(until: expect, timeout: timeout)
    }

    /// Takes the first Telnet event (not data) that `matches`, waiting up to `timeout`.
    func event(timeout: Duration = .seconds(4), _ matches: (Telnet.Event) -> Bool) async throws -> Telnet.Event {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let index = pending.firstIndex(where: matches) { return pending.remove(at: index) }
            guard try await pump(until: deadline) else {
                throw NoEvent(pending: pending)
            }
        }
    }

    /// The next server message of `command` (COM-PORT-OPTION, code + 100).
    func answer(_ command: ComPort.Command, timeout: Duration = .seconds(4)) async throws -> ComPort.Message {
        let event = try await event(timeout: timeout) { event in
            guard case .subnegotiation(Telnet.Option.comPort, let payload) = event else { return false }
            return ComPort.Message(payload: payload).map { $0.fromServer && $0.command == command } ?? false
        }
        guard case .subnegotiation(_, let payload) = event, let message = ComPort.Message(payload: payload) else {
            throw NoEvent(pending: pending)
        }
        return message
    }

    /// The next NOTIFY-MODEMSTATE byte for which `matches` holds (earlier ones are dropped).
    func modemState(timeout: Duration = .seconds(4), _ matches: (UInt8) -> Bool) async throws -> UInt8 {
        let deadline = ContinuousClock.now + timeout
        while true {
            let message = try await answer(.notifyModemState, timeout: max(.zero, deadline - .now))
            if matches(message.byte) { return message.byte }
        }
    }

    /// Whether a negotiation `verb option` is among what arrived (taking it).
    func negotiation(_ verb: Telnet.Verb, _ option: UInt8, timeout: Duration = .seconds(4)) async throws {
        _ = try await event(timeout: timeout) { $0 == .negotiation(verb, option) }
    }

    /// Negotiates as an RFC 2217 client: BINARY and SUPPRESS-GO-AHEAD both ways, then
    /// `WILL COM-PORT-OPTION`; waits for the server's `DO`.
    func negotiateComPort() async throws {
        var out: [UInt8] = []
        for option in [Telnet.Option.binary, Telnet.Option.suppressGoAhead] {
            out += Telnet.negotiation(.will, option) + Telnet.negotiation(.do, option)
        }
        try await send(out + Telnet.negotiation(.will, Telnet.Option.comPort))
        try await negotiation(.do, Telnet.Option.comPort)
    }

    /// Waits until the server closes the connection; `false` after `timeout`.
    func waitForClose(timeout: Duration = .seconds(4)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !peerClosed, ContinuousClock.now < deadline { _ = try await pump(until: deadline) }
        return peerClosed
    }

    /// Data received and not yet read.
    func takeData() -> [UInt8] {
        defer { data.removeAll() }
        return data
    }

    struct NoEvent: Error, CustomStringConvertible {
        let pending: [Telnet.Event]
        var description: String { "the expected Telnet event did not come; pending: \(pending)" }
    }
}
