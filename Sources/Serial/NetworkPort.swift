import Synchronization
import SystemIO

/// Where a network port is: `rfc2217://HOST:PORT` (a terminal server speaking RFC 2217) or
/// `tcp://HOST:PORT` (raw TCP to a telnet modem such as tcpser). `HOST` is a name, an IPv4
/// address or a bracketed IPv6 address.
public struct NetworkPortAddress: Sendable, Hashable, CustomStringConvertible {
    /// The protocol on the TCP connection.
    public enum Transport: String, Sendable {
        /// Telnet with COM-PORT-OPTION: line settings and modem lines travel with the data.
        case rfc2217
        /// Bytes as they are: no settings, no modem lines.
        case tcp
    }

    /// The protocol.
    public var transport: Transport
    /// The host, without brackets.
    public var host: String
    /// The TCP port, 1…65535.
    public var port: Int

    /// Whether `text` is meant as a network address (it starts with `rfc2217://` or
    /// `tcp://`, in any case), well formed or not.
    public static func isNetworkAddress(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("rfc2217://") || lower.hasPrefix("tcp://")
    }

    /// Parses `rfc2217://HOST:PORT` or `tcp://HOST:PORT`.
    /// - Throws: `.notSerialDevice` saying what is wrong.
    public init(_ text: String) throws(SerialError) {
        switch Self.parse(text) {
        case .success(let address): self = address
        case .failure(let problem): throw .notSerialDevice(path: text, reason: problem.description)
        }
    }

    /// What is wrong with `text` as a network address, or `nil` when it is well formed.
    public static func problem(_ text: String) -> String? {
        switch parse(text) {
        case .success: nil
        case .failure(let problem): problem.description
        }
    }

    private struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    private static func parse(_ text: String) -> Result<NetworkPortAddress, Problem> {
        guard isNetworkAddress(text), let separator = text.range(of: "://"),
              let transport = Transport(rawValue: text[..<separator.lowerBound].lowercased()) else {
            return .failure(Problem(description: "a network port is rfc2217://HOST:PORT or tcp://HOST:PORT"))
        }
        let rest = text[separator.upperBound...]
        if rest.contains("/") || rest.contains("?") || rest.contains("@") {
            return .failure(Problem(description: "only HOST:PORT may follow the scheme (no path, query or user)"))
        }
        let endpoint: HostPort
        do {
            endpoint = try HostPort(parsing: rest)
        } catch {
            return .failure(Problem(description: error.problem))
        }
        guard endpoint.port != 0 else { return .failure(Problem(description: "the port must be a number from 1 to 65535")) }
        return .success(NetworkPortAddress(transport: transport, host: endpoint.host, port: endpoint.port))
    }

    /// An address.
    public init(transport: Transport, host: String, port: Int) {
        self.transport = transport
        self.host = host
        self.port = port
    }

    /// `rfc2217://HOST:PORT` (IPv6 hosts in brackets).
    public var description: String {
        "\(transport.rawValue)://\(HostPort(host: host, port: port))"
    }
}

/// A modem port on another host: a serial port on a terminal server (`ser2net`, Moxa,
/// Digi, Lantronix) reached with RFC 2217, or a raw TCP modem.
///
/// ## How it runs
/// One **pump** task per port reads the TCP connection (waiting on the process's one
/// `IOReactor`, like every local port), decodes Telnet, and routes what it finds: payload
/// bytes into an internal socket pair that ``read(into:deadline:)`` reads exactly like a
/// serial device (deadlines, cancellation, hang-up at end of file); negotiation answers
/// back to the server; COM-PORT-OPTION answers and NOTIFY-MODEMSTATE into the port's state,
/// which ``modemLines()`` and ``currentOptions()`` report without a round trip. So modem
/// lines stay current even while nobody reads, and nothing the server says is lost to a
/// reader that is not waiting.
///
/// Requests (line settings, DTR/RTS, purge, break) are queued in order and leave with the
/// next write to the server — its own or a data write, whichever gets the connection's
/// turn first — so a request made before a write always reaches the server before it.
///
/// ## What it promises
/// - Opening connects, negotiates BINARY and SGA both ways and COM-PORT-OPTION, sets the
///   speed, data size, parity and stop size and waits until the server confirms each: a
///   server that refuses COM-PORT-OPTION or never answers is `.protocolViolation`, a speed
///   it did not take `.unsupportedSpeed`, another setting `.unsupported`.
/// - DTR and RTS are requested with SET-CONTROL. A server that never answers SET-CONTROL
///   (ser2net in front of a pty, a port whose DTR is not wired) is noticed from the
///   request sent at open; ``lowerDTR()`` then throws `.unsupported` at once, so a hang-up
///   goes straight on to `+++` and `ATH` instead of waiting for a DTR drop that cannot happen.
/// - DCD, CTS, DSR and RI come from NOTIFY-MODEMSTATE; until the server has sent one,
///   ``modemLines()`` throws `.unsupported`, as on a pty. A DCD the server has never
///   reported high counts as not wired (ser2net in front of a pty reports every line low
///   for ever): ``carrierDetect()`` is `nil` until then, so only a carrier once seen can be lost.
/// - A lost connection is a hang-up with the device gone (``deviceIsPresent`` false).
public final class NetworkPort: ModemPort {
    /// How long each step of opening and control may take.
    public struct Timeouts: Sendable, Equatable {
        /// The TCP connect.
        public var connect: Duration
        /// The server's answer to `WILL COM-PORT-OPTION`.
        public var negotiation: Duration
        /// The server's confirmation of the line settings.
        public var confirmation: Duration
        /// How long an answer to SET-CONTROL may take before the server counts as one
        /// that does not answer it (DTR/RTS not wired).
        public var control: Duration

        /// Timeouts; the defaults suit a terminal server across a site's network.
        public init(
            connect: Duration = .seconds(5), negotiation: Duration = .seconds(2), confirmation: Duration = .seconds(2),
            control: Duration = .milliseconds(500)
        ) {
            self.connect = connect
            self.negotiation = negotiation
            self.confirmation = confirmation
            self.control = control
        }
    }

    /// How the port was named (`rfc2217://HOST:PORT`, `tcp://HOST:PORT`).
    public let path: String
    /// Where it is.
    public let address: NetworkPortAddress
    private let connection: TCPConnection
    /// The pump writes payload into `inboxWriter`; readers read `inbox`.
    private let inbox: UnixSocketConnection
    private let inboxWriter: UnixSocketConnection
    private let state: Mutex<State>
    private let pump = Mutex<Task<Void, Never>?>(nil)
    private let timeouts: Timeouts

    private struct State: Sendable {
        var decoder = Telnet.Decoder()
        var sendsBinary = true
        /// Options we asked to enable (`WILL`) and the server to enable (`DO`), not yet answered.
        var requestedWill: Set<UInt8> = []
        var requestedDo: Set<UInt8> = []
        var weWill: Set<UInt8> = []
        var theyWill: Set<UInt8> = []
        var comPortAccepted = false
        var comPortRefused = false
        /// The requested settings and what the server confirmed of them.
        var options: SerialOptions
        var confirmedSpeed: Int?
        var confirmedDataSize: UInt8?
        var confirmedParity: UInt8?
        var confirmedStopSize: UInt8?
        var settingAnswers = 0
        /// How many SET-CONTROL answers about DTR came, and when the first DTR request was sent.
        var controlAnswers = 0
        var controlProbeSent: ContinuousClock.Instant?
        var outputs: ModemLines = [.dtr, .rts]
        var modemState: ModemLines?
        /// Whether the server has ever reported DCD high: until then its DCD is taken as not
        /// wired (a pty behind ser2net, a three-wire cable report it low for ever).
        var carrierSeen = false
        var lineErrors = LineErrorCounters()
        var suspended = false
        var signature: String?
        var lost = false
        var closed = false
        /// Requests waiting for the next write.
        var outgoing: [UInt8] = []
        var senderScheduled = false
    }

    private init(address: NetworkPortAddress, connection: TCPConnection, options: SerialOptions, timeouts: Timeouts) throws(SerialError) {
        self.address = address
        path = address.description
        self.connection = connection
        self.timeouts = timeouts
        let pair: (UnixSocketConnection, UnixSocketConnection)
        do { pair = try UnixSocketConnection.pair(label: address.description) } catch { throw SerialError(error) }
        (inbox, inboxWriter) = pair
        state = Mutex(State(options: options))
    }

    deinit { close() }

    /// Connects to `address` and, for RFC 2217, negotiates and applies `options`, waiting
    /// for the server's confirmations.
    ///
    /// - Throws: `.unresolved` (a host name that does not resolve); `.system` with
    ///   `ECONNREFUSED` and the like, or `.timedOut`, from the connect; `.protocolViolation`
    ///   when the server does not speak RFC 2217 or does not confirm the settings;
    ///   `.unsupportedSpeed` / `.unsupported` for settings it changed; `.hangUp` if it closes.
    ///   Nothing stays open on failure.
    public static func open(
        _ address: NetworkPortAddress, options: SerialOptions = SerialOptions(), timeouts: Timeouts = Timeouts()
    ) async throws(SerialError) -> NetworkPort {
        let connection: TCPConnection
        do {
            connection = try await TCPConnection.connect(host: address.host, port: address.port, deadline: .now + timeouts.connect)
        } catch {
            throw SerialError(error).renamed(to: address.description)
        }
        let port: NetworkPort
        do {
            port = try NetworkPort(address: address, connection: connection, options: options, timeouts: timeouts)
        } catch {
            connection.close()
            throw error
        }
        port.startPump()
        guard address.transport == .rfc2217 else { return port }
        do {
            try await port.negotiate(options)
        } catch {
            port.close()
            throw error
        }
        return port
    }

    // MARK: Opening

    private func negotiate(_ options: SerialOptions) async throws(SerialError) {
        state.withLock { state in
            state.requestedWill = [Telnet.Option.binary, Telnet.Option.suppressGoAhead, Telnet.Option.comPort]
            state.requestedDo = [Telnet.Option.binary, Telnet.Option.suppressGoAhead]
        }
        enqueue(
            Telnet.negotiation(.will, Telnet.Option.binary) + Telnet.negotiation(.do, Telnet.Option.binary)
                + Telnet.negotiation(.will, Telnet.Option.suppressGoAhead) + Telnet.negotiation(.do, Telnet.Option.suppressGoAhead)
                + Telnet.negotiation(.will, Telnet.Option.comPort))
        let accepted = try await waitUntil(.now + timeouts.negotiation, "RFC 2217 negotiation") { state -> Bool? in
            if state.comPortRefused { return false }
            return state.comPortAccepted ? true : nil
        }
        switch accepted {
        case true: break
        case false: throw .protocolViolation(path: path, reason: "the server refuses COM-PORT-OPTION: it is not an RFC 2217 port (try tcp://)")
        case nil:
            throw .protocolViolation(
                path: path, reason: "no answer to COM-PORT-OPTION within \(timeouts.negotiation): the server does not speak RFC 2217 (try tcp://)")
        }
        let before = state.withLock { $0.settingAnswers }
        send(settings: options, all: true)
        // Ask for the modem lines now, and raise DTR and RTS: the answer (or its absence)
        // tells whether this server answers SET-CONTROL at all (see lowerDTR).
        state.withLock { $0.controlProbeSent = .now }
        enqueue(
            ComPort.Message(.notifyModemState, fromServer: false, value: []).encoded
                + control(.dtrOn) + control(.rtsOn))
        let confirmed = try await waitUntil(.now + timeouts.confirmation, "RFC 2217 port settings") { state -> Bool? in
            state.settingAnswers >= before + 4 ? true : nil
        }
        guard confirmed == true else {
            throw .protocolViolation(path: path, reason: "the server did not confirm the port settings within \(timeouts.confirmation)")
        }
        try checkConfirmed(options)
    }

    /// Compares what the server confirmed with `options`.
    private func checkConfirmed(_ options: SerialOptions) throws(SerialError) {
        let (speed, dataSize, parity, stopSize) = state.withLock {
            ($0.confirmedSpeed, $0.confirmedDataSize, $0.confirmedParity, $0.confirmedStopSize)
        }
        if let speed, speed != options.speed.rawValue {
            throw .unsupportedSpeed(options.speed.rawValue, path: "\(path) (the server set \(speed))")
        }
        if dataSize.map(Int.init) != options.dataBits.rawValue || parity != ComPort.code(of: options.parity)
            || stopSize != ComPort.code(of: options.stopBits) {
            throw .unsupported(operation: "configure \(options)", path: path)
        }
    }

    /// Polls the state every millisecond until `condition` gives an answer, `deadline`
    /// passes (`nil`), or the connection is lost (`.hangUp`).
    private func waitUntil(
        _ deadline: ContinuousClock.Instant, _ operation: String, _ condition: (State) -> Bool?
    ) async throws(SerialError) -> Bool? {
        while true {
            let (answer, lost) = state.withLock { (condition($0), $0.lost) }
            if let answer { return answer }
            if lost { throw .hangUp(path: path) }
            if ContinuousClock.now >= deadline { return nil }
            do { try await Task.sleep(for: .milliseconds(1)) } catch { throw .cancelled(operation: operation, path: path) }
        }
    }

    // MARK: The pump

    private func startPump() {
        let task = Task { [weak self] in
            guard let self else { return }
            await self.runPump()
        }
        pump.withLock { $0 = task }
    }

    private func runPump() async {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while !Task.isCancelled {
            let count: Int?
            do {
                count = try connection.readNow(into: &buffer)
            } catch {
                lose()
                return
            }
            guard let count else {
                do { _ = try await connection.waitReadable(deadline: nil) } catch {
                    if case .cancelled = error { return }
                    lose()
                    return
                }
                continue
            }
            let (data, replies) = state.withLock { state in Self.process(buffer[..<count], raw: address.transport == .tcp, &state) }
            if !replies.isEmpty { enqueue(replies) }
            if !data.isEmpty {
                do { try await inboxWriter.write(data) } catch { return }
            }
        }
    }

    /// The connection is gone: readers get end of file, and the port counts as absent.
    private func lose() {
        state.withLock { $0.lost = true }
        inboxWriter.close()
    }

    /// Decodes what arrived: the payload for readers and the negotiation answers to send.
    private static func process(_ bytes: ArraySlice<UInt8>, raw: Bool, _ state: inout State) -> (data: [UInt8], replies: [UInt8]) {
        if raw { return (Array(bytes), []) }
        var data: [UInt8] = []
        var replies: [UInt8] = []
        for event in state.decoder.decode(bytes) {
            switch event {
            case .data(let payload): data += payload
            case .negotiation(let verb, let option): replies += negotiate(verb, option, &state)
            case .subnegotiation(Telnet.Option.comPort, let payload):
                if let message = ComPort.Message(payload: payload), message.fromServer { apply(message, &state) }
            case .subnegotiation, .command, .oversizedSubnegotiation: break
            }
        }
        return (data, replies)
    }

    /// The client's side of option negotiation (RFC 854/1143, without loops: a request is
    /// answered only when it changes the option's state).
    private static func negotiate(_ verb: Telnet.Verb, _ option: UInt8, _ state: inout State) -> [UInt8] {
        let wanted: Set<UInt8> = [Telnet.Option.binary, Telnet.Option.suppressGoAhead, Telnet.Option.comPort]
        switch verb {
        case .do:
            if option == Telnet.Option.comPort { state.comPortAccepted = true }
            guard wanted.contains(option) else { return Telnet.negotiation(.wont, option) }
            let asked = state.requestedWill.remove(option) != nil
            guard state.weWill.insert(option).inserted, !asked else { return [] }
            return Telnet.negotiation(.will, option)
        case .dont:
            if option == Telnet.Option.comPort { state.comPortRefused = true }
            if option == Telnet.Option.binary { state.sendsBinary = false }
            let asked = state.requestedWill.remove(option) != nil
            guard state.weWill.remove(option) != nil, !asked else { return [] }
            return Telnet.negotiation(.wont, option)
        case .will:
            guard wanted.contains(option) else { return Telnet.negotiation(.dont, option) }
            if option == Telnet.Option.binary { state.decoder.binary = true }
            let asked = state.requestedDo.remove(option) != nil
            guard state.theyWill.insert(option).inserted, !asked else { return [] }
            return Telnet.negotiation(.do, option)
        case .wont:
            if option == Telnet.Option.binary { state.decoder.binary = false }
            let asked = state.requestedDo.remove(option) != nil
            guard state.theyWill.remove(option) != nil, !asked else { return [] }
            return Telnet.negotiation(.dont, option)
        }
    }

    /// Takes in a COM-PORT-OPTION answer or notification from the server.
    private static func apply(_ message: ComPort.Message, _ state: inout State) {
        switch message.command {
        case .setBaudRate:
            state.confirmedSpeed = message.number.map(Int.init)
            state.settingAnswers += 1
        case .setDataSize:
            state.confirmedDataSize = message.byte
            state.settingAnswers += 1
        case .setParity:
            state.confirmedParity = message.byte
            state.settingAnswers += 1
        case .setStopSize:
            state.confirmedStopSize = message.byte
            state.settingAnswers += 1
        case .setControl:
            // Only answers about DTR show that the server acts on DTR (ser2net answers flow
            // control but not DTR in front of a pty).
            if (ComPort.Control.requestDTR.rawValue...ComPort.Control.dtrOff.rawValue).contains(message.byte) {
                state.controlAnswers += 1
            }
        case .notifyModemState:
            let lines = ComPort.modemLines(state: message.byte)
            state.modemState = lines
            if lines.contains(.dcd) { state.carrierSeen = true }
        case .notifyLineState:
            let bits = message.byte
            if bits & 0x10 != 0 { state.lineErrors.breaks += 1 }
            if bits & 0x08 != 0 { state.lineErrors.framing += 1 }
            if bits & 0x04 != 0 { state.lineErrors.parity += 1 }
            if bits & 0x02 != 0 { state.lineErrors.overrun += 1 }
        case .flowControlSuspend: state.suspended = true
        case .flowControlResume: state.suspended = false
        case .signature: state.signature = String(decoding: message.value.prefix(255), as: UTF8.self)
        case .setLineStateMask, .setModemStateMask, .purgeData: break
        }
    }

    // MARK: Requests

    private func control(_ value: ComPort.Control) -> [UInt8] {
        ComPort.Message(.setControl, fromServer: false, value: [value.rawValue]).encoded
    }

    /// Queues the settings of `options` that differ from the last ones sent (all with `all`).
    private func send(settings options: SerialOptions, all: Bool) {
        let previous = state.withLock { state -> SerialOptions in
            defer { state.options = options }
            return state.options
        }
        var bytes: [UInt8] = []
        if all || previous.speed != options.speed {
            bytes += ComPort.Message(.setBaudRate, fromServer: false, value: ComPort.bytes(of: UInt32(clamping: options.speed.rawValue))).encoded
        }
        if all || previous.dataBits != options.dataBits {
            bytes += ComPort.Message(.setDataSize, fromServer: false, value: [UInt8(options.dataBits.rawValue)]).encoded
        }
        if all || previous.parity != options.parity {
            bytes += ComPort.Message(.setParity, fromServer: false, value: [ComPort.code(of: options.parity)]).encoded
        }
        if all || previous.stopBits != options.stopBits {
            bytes += ComPort.Message(.setStopSize, fromServer: false, value: [ComPort.code(of: options.stopBits)]).encoded
        }
        if all || previous.flowControl != options.flowControl {
            bytes += control(ComPort.control(for: options.flowControl))
        }
        if !bytes.isEmpty { enqueue(bytes) }
    }

    /// Queues `bytes` for the server; they leave with the next write (a sender task makes one
    /// if no write comes).
    private func enqueue(_ bytes: [UInt8]) {
        let schedule = state.withLock { state -> Bool in
            guard !state.closed, !state.lost else { return false }
            state.outgoing += bytes
            defer { state.senderScheduled = true }
            return !state.senderScheduled
        }
        guard schedule else { return }
        Task { [weak self] in
            guard let self else { return }
            do throws(SystemError) {
                try await self.connection.write(deadline: .now + .seconds(5)) { self.takeOutgoing() }
            } catch {
                if case .timedOut = error { self.lose() }
            }
        }
    }

    /// The queued requests, taken by the write that has the connection's turn.
    private func takeOutgoing() -> [UInt8] {
        state.withLock { state in
            state.senderScheduled = false
            defer { state.outgoing.removeAll() }
            return state.outgoing
        }
    }

    /// Whether the server has shown it does not act on DTR: no SET-CONTROL request about DTR
    /// was answered, and the first is older than ``Timeouts/control``.
    private var controlUnanswered: Bool {
        state.withLock { state in
            guard state.controlAnswers == 0, let sent = state.controlProbeSent else { return false }
            return sent.duration(to: .now) >= timeouts.control
        }
    }

    // MARK: ModemPort

    /// Whether ``close()`` has been called.
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Whether the TCP connection is still up.
    public var deviceIsPresent: Bool { state.withLock { !$0.lost } }

    /// What the server said its name is (RFC 2217 SIGNATURE), if it said.
    public var signature: String? { state.withLock { $0.signature } }

    /// Closes the connection (a terminal server then drops DTR and frees its port).
    public func close() {
        let already = state.withLock { state -> Bool in
            defer { state.closed = true }
            return state.closed
        }
        guard !already else { return }
        pump.withLock { $0 }?.cancel()
        connection.close()
        inbox.close()
        inboxWriter.close()
    }

    /// Sends the settings that changed. The server's confirmations arrive later; what they
    /// say is what ``currentOptions()`` reports. Carrier and hang-up-on-close flags are the
    /// local side's and are kept as given. A raw TCP port has no settings to send.
    public func configure(_ options: SerialOptions) throws(SerialError) {
        if isClosed { throw .closed(path: path) }
        guard address.transport == .rfc2217 else {
            state.withLock { $0.options = options }
            return
        }
        send(settings: options, all: false)
    }

    /// The settings requested, with the speed the server confirmed.
    public func currentOptions() throws(SerialError) -> SerialOptions {
        try state.withLock { state throws(SerialError) -> SerialOptions in
            if state.closed { throw .closed(path: path) }
            var options = state.options
            if let speed = state.confirmedSpeed, let rate = BaudRate(rawValue: speed) { options.speed = rate }
            return options
        }
    }

    /// Reads what the server sent (Telnet removed).
    public func read(into buffer: inout [UInt8], deadline: ContinuousClock.Instant?) async throws(SerialError) -> Int {
        let bytes: [UInt8]
        do {
            bytes = try await inbox.read(maxCount: max(1, buffer.count), deadline: deadline)
        } catch {
            switch error {
            case .closed: throw .closed(path: path)
            case .cancelled: throw isClosed ? .closed(path: path) : .cancelled(operation: "read", path: path)
            default: throw .hangUp(path: path)
            }
        }
        for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        return bytes.count
    }

    /// Writes `bytes` (IAC doubled), after the requests queued before it; waits while the
    /// server asked to suspend (FLOWCONTROL-SUSPEND).
    public func write(_ bytes: some Sequence<UInt8>, deadline: ContinuousClock.Instant?) async throws(SerialError) {
        if isClosed { throw .closed(path: path) }
        let raw = address.transport == .tcp
        let payload = raw ? Array(bytes) : Telnet.escape(Array(bytes), binary: state.withLock { $0.sendsBinary })
        while state.withLock({ $0.suspended && !$0.lost }) {
            if let deadline, deadline <= .now { throw .timedOut(operation: "write (server suspended the flow)", path: path) }
            do { try await Task.sleep(for: .milliseconds(2)) } catch { throw .cancelled(operation: "write", path: path) }
        }
        do {
            try await connection.write(deadline: deadline) { takeOutgoing() + payload }
        } catch {
            switch error {
            case .timedOut: throw .timedOut(operation: "write", path: path)
            case .cancelled: throw isClosed ? .closed(path: path) : .cancelled(operation: "write", path: path)
            case .closed: throw .closed(path: path)
            default:
                lose()
                throw .hangUp(path: path)
            }
        }
    }

    /// Returns once the queued requests have been handed to the connection (what the server
    /// has yet to send on its serial line is beyond sight).
    public func drain(deadline: ContinuousClock.Instant) async throws(SerialError) {
        while state.withLock({ !$0.outgoing.isEmpty && !$0.lost }) {
            if deadline <= .now { throw .timedOut(operation: "drain", path: path) }
            do { try await Task.sleep(for: .milliseconds(1)) } catch { throw .cancelled(operation: "drain", path: path) }
        }
    }

    /// Discards what was received and not read, and asks the server (PURGE-DATA) to discard
    /// its buffers as well.
    public func flush(_ queue: SerialPort.Queue) throws(SerialError) {
        if isClosed { throw .closed(path: path) }
        if queue != .output {
            do { try inbox.discardPending() } catch { throw .hangUp(path: path) }
        }
        guard address.transport == .rfc2217 else { return }
        let purge: ComPort.Purge = switch queue {
        case .input: .receive
        case .output: .transmit
        case .both: .both
        }
        enqueue(ComPort.Message(.purgeData, fromServer: false, value: [purge.rawValue]).encoded)
    }

    /// Asks the server for a break of `duration` (SET-CONTROL BREAK on, then off).
    public func sendBreak(duration: Duration) async throws(SerialError) {
        guard address.transport == .rfc2217 else { throw .unsupported(operation: "break", path: path) }
        enqueue(control(.breakOn))
        do { try await Task.sleep(for: duration) } catch {}
        enqueue(control(.breakOff))
    }

    /// DCD, CTS, DSR and RI as the server last reported them (NOTIFY-MODEMSTATE), with DTR
    /// and RTS as last requested.
    /// - Throws: `.unsupported` for a raw TCP port or before the server reported any.
    public func modemLines() throws(SerialError) -> ModemLines {
        guard address.transport == .rfc2217 else { throw .unsupported(operation: "modem lines", path: path) }
        return try state.withLock { state throws(SerialError) -> ModemLines in
            if state.closed { throw .closed(path: path) }
            guard let lines = state.modemState else {
                throw .unsupported(operation: "modem lines (the server has not reported them)", path: path)
            }
            return lines.union(state.outputs)
        }
    }

    /// DCD as the server reports it, once it has reported it high at least once; `nil`
    /// before (not wired, or not known yet), so that a line whose DCD never rises is not
    /// taken for a dropped call or a modem on-hook.
    public func carrierDetect() -> Bool? {
        state.withLock { state in
            guard state.carrierSeen, let lines = state.modemState else { return nil }
            return lines.contains(.dcd)
        }
    }

    /// Asks the server to raise or drop DTR and RTS.
    public func setModemLines(_ lines: ModemLines, on: Bool) throws(SerialError) {
        guard address.transport == .rfc2217 else { throw .unsupported(operation: "modem lines", path: path) }
        if isClosed { throw .closed(path: path) }
        var bytes: [UInt8] = []
        if lines.contains(.dtr) { bytes += control(on ? .dtrOn : .dtrOff) }
        if lines.contains(.rts) { bytes += control(on ? .rtsOn : .rtsOff) }
        state.withLock { state in
            if on { state.outputs.formUnion(lines.intersection(.outputs)) } else { state.outputs.subtract(lines) }
            if state.controlProbeSent == nil { state.controlProbeSent = .now }
        }
        if !bytes.isEmpty { enqueue(bytes) }
    }

    /// Asks the server to drop DTR.
    /// - Throws: `.unsupported` on a raw TCP port, or when the server has shown it does not
    ///   answer SET-CONTROL (DTR not wired): the caller goes on to `+++`/`ATH` at once.
    public func lowerDTR() throws(SerialError) -> DTRDropMethod {
        guard address.transport == .rfc2217 else { throw .unsupported(operation: "DTR", path: path) }
        if controlUnanswered {
            throw .unsupported(operation: "DTR (the server does not answer SET-CONTROL)", path: path)
        }
        try setModemLines(.dtr, on: false)
        return .remoteControl
    }

    /// Asks the server to raise DTR again.
    public func raiseDTR(after method: DTRDropMethod) throws(SerialError) {
        guard method == .remoteControl else { throw .unsupported(operation: "raise DTR by \(method.rawValue)", path: path) }
        try setModemLines(.dtr, on: true)
    }

    /// Line errors the server reported (NOTIFY-LINESTATE); `nil` on a raw TCP port.
    public func errorCounters() -> LineErrorCounters? {
        guard address.transport == .rfc2217 else { return nil }
        return state.withLock { $0.lineErrors }
    }
}

extension SerialError {
    /// The same error about `path` (a TCP connection's errors name `host:port`).
    func renamed(to path: String) -> SerialError {
        switch self {
        case .system(let operation, _, let errno): .system(operation: operation, path: path, errno: errno)
        case .timedOut(let operation, _): .timedOut(operation: operation, path: path)
        case .unresolved(_, let reason): .unresolved(path: path, reason: reason)
        case .hangUp: .hangUp(path: path)
        case .cancelled(let operation, _): .cancelled(operation: operation, path: path)
        default: self
        }
    }
}
