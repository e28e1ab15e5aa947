import Serial
import Synchronization
import SystemIO

/// Serves one modem of a running ``FakeModemBank`` over TCP, as a terminal server serves the
/// modem on its serial port, so that a program on another machine (another project's CI)
/// can dial it.
///
/// The front end is the program on the modem's pty slave: for each client it opens the
/// slave itself (``SerialPort``, exclusively, 115200 8N1, `HUPCL`) and relays bytes both
/// ways; when the client goes, it closes the slave, so the modem sees what a program
/// closing its port does (with `&D2`: the call hangs up). **One client at a time**: a
/// second client while one is served is refused — closed at once, in ``Mode/raw`` after the
/// line `fakemodem: <modem> is taken by another client`; the same happens when a local
/// program holds the slave exclusively. A client that connects while the previous one is
/// being let go waits until the modem has seen that close.
///
/// In ``Mode/rfc2217`` the stream is Telnet with RFC 2217's COM-PORT-OPTION, and the modem
/// gets the RS-232 lines a pty cannot carry: the client's DTR is **emulated** as the slave's
/// speed (off = B0, on = the speed restored), which the bank reads as a DTR drop exactly as
/// for a local program; and the modem's DCD (carrier, or always with `&C0`), DSR and CTS
/// (on while it is powered) and RI (ringing) are sent as NOTIFY-MODEMSTATE whenever they
/// change.
///
/// ```swift
/// let server = try NetworkFrontEnd(modem: bank.modems[0], host: "127.0.0.1", port: 0, mode: .rfc2217)
/// try server.start()
/// print(server.url)   // rfc2217://127.0.0.1:40123
/// // … clients dial it …
/// await server.stop()
/// ```
public final class NetworkFrontEnd: Sendable {
    /// What the TCP stream carries.
    public enum Mode: String, Sendable, Equatable, CaseIterable {
        /// The modem's bytes as they are, both ways (like `tcpser`).
        case raw
        /// Telnet with RFC 2217's COM-PORT-OPTION: line settings, DTR, and the modem lines.
        case rfc2217
    }

    /// Where to listen, from a URL: `tcp://HOST:PORT` (``Mode/raw``) or
    /// `rfc2217://HOST:PORT` (``Mode/rfc2217``); an IPv6 host in brackets (`tcp://[::1]:0`).
    public struct Endpoint: Sendable, Equatable {
        /// The host or address to bind, without brackets.
        public var host: String
        /// The port, 0…65535 (0: any free port).
        public var port: Int
        /// The mode the scheme names.
        public var mode: Mode

        /// An endpoint from its parts.
        public init(host: String, port: Int, mode: Mode) {
            self.host = host
            self.port = port
            self.mode = mode
        }

        /// Parses `url`.
        /// - Throws: ``FakeModemError/network(_:)`` saying what is wrong.
        public init(url: String) throws(FakeModemError) {
            let form = "expected tcp://HOST:PORT or rfc2217://HOST:PORT (PORT 0-65535, an IPv6 host in brackets), got '\(url)'"
            guard let separator = url.range(of: "://") else { throw .network(form) }
            switch url[..<separator.lowerBound].lowercased() {
            case "tcp": mode = .raw
            case "rfc2217": mode = .rfc2217
            default: throw .network(form)
            }
            let endpoint: HostPort
            do {
                endpoint = try HostPort(parsing: url[separator.upperBound...])
            } catch {
                throw .network("\(form): \(error.problem)")
            }
            host = endpoint.host
            self.port = endpoint.port
        }
    }

    /// The modem served.
    public let modem: EmulatedModem
    /// How the stream is framed.
    public let mode: Mode
    /// The host the listener was bound to, as given.
    public let host: String
    /// The port it listens on (the one the kernel chose for port 0).
    public let port: Int

    /// `tcp://HOST:PORT` (``Mode/raw``) or `rfc2217://HOST:PORT`, an IPv6 host in brackets.
    public var url: String {
        "\(mode == .raw ? "tcp" : "rfc2217")://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    /// What RFC 2217's SIGNATURE answers.
    public static let signature = "swift-ras fakemodem"

    private let listener: TCPListener
    private let state = Mutex(FrontEndState())

    private struct FrontEndState {
        var acceptor: Task<Void, Never>?
        var session: (id: Int, task: Task<Void, Never>, ending: Bool)?
        var nextID = 0
        var started = false
        var stopped = false
    }

    /// Binds `host:port` (port 0: any free port) and listens; clients are served once
    /// ``start()`` is called.
    /// - Throws: ``FakeModemError/network(_:)`` when the address cannot be bound (in use,
    ///   not local, a host that does not resolve).
    public init(modem: EmulatedModem, host: String, port: Int, mode: Mode = .raw) throws(FakeModemError) {
        guard (0...65535).contains(port) else { throw .network("port \(port) is not in 0…65535") }
        self.modem = modem
        self.mode = mode
        self.host = host
        do {
            listener = try TCPListener(host: host, port: port)
        } catch {
            let shown = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            throw .network("cannot listen on \(shown): \(Self.reason(error))")
        }
        self.port = listener.port
    }

    deinit { listener.close() }

    /// Starts accepting clients.
    /// - Throws: ``FakeModemError/stopped`` after ``stop()``.
    public func start() throws(FakeModemError) {
        try state.withLock { state throws(FakeModemError) in
            guard !state.stopped else { throw FakeModemError.stopped }
            guard !state.started else { return }
            state.started = true
            state.acceptor = Task { await self.acceptClients() }
        }
    }

    /// Stops listening, lets the client go (its slave is closed) and waits until all of it
    /// is done. Twice is harmless.
    public func stop() async {
        let tasks = state.withLock { state -> [Task<Void, Never>] in
            state.stopped = true
            return [state.acceptor, state.session?.task].compactMap { $0 }
        }
        listener.close()
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    /// Whether a client is being served now.
    public var hasClient: Bool { state.withLock { $0.session.map { !$0.ending } ?? false } }

    // MARK: Clients

    private func acceptClients() async {
        while true {
            let connection: TCPConnection
            do {
                guard let accepted = try await listener.accept(deadline: nil) else { continue }
                connection = accepted
            } catch {
                return
            }
            await admit(connection)
        }
    }

    /// Serves `connection`, or refuses it while another client is served.
    private func admit(_ connection: TCPConnection) async {
        let admitted = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            if let session = state.session, !session.ending { return false }
            let id = state.nextID
            state.nextID += 1
            let previous = state.session?.task
            state.session = (id, Task { await self.serve(connection, id: id, after: previous) }, false)
            return true
        }
        guard !admitted else { return }
        if state.withLock({ $0.stopped }) {
            connection.close()
            return
        }
        await refuse(connection, "busy: another client is connected", line: "\(modem.name) is taken by another client")
    }

    private func refuse(_ connection: TCPConnection, _ reason: String, line: String) async {
        modem.record("network-refused \(connection.address) \(reason)")
        if mode == .raw {
            try? await connection.write(Array("fakemodem: \(line)\r\n".utf8), deadline: .now + .milliseconds(200))
        }
        connection.close()
    }

    private func serve(_ connection: TCPConnection, id: Int, after previous: Task<Void, Never>?) async {
        // The previous client's slave must be seen closed before this one opens it, or the
        // modem would take the two for one program.
        if let previous {
            await withTaskCancellationHandler { await previous.value } onCancel: { previous.cancel() }
        }
        if Task.isCancelled {
            connection.close()
        } else {
            await bridge(connection, id: id)
        }
        state.withLock { state in
            if state.session?.id == id { state.session = nil }
        }
    }

    /// Opens the slave for the client, relays until one side goes, and closes both.
    private func bridge(_ connection: TCPConnection, id: Int) async {
        let serial: SerialPort
        do {
            serial = try SerialPort(path: modem.slavePath, options: SerialOptions(), exclusive: true)
        } catch .inUse {
            await refuse(connection, "in-use", line: "\(modem.name) is in use by a program on \(modem.slavePath)")
            return
        } catch {
            await refuse(connection, "unavailable", line: "\(modem.name) is not available (\(error))")
            return
        }
        // The relay starts once the bank serves the open slave: a DTR drop the client sends
        // at once must not reach the modem before the open does.
        guard await waitForEngine(open: true, timeout: .seconds(2)) else {
            serial.close()
            await refuse(connection, "unavailable", line: "\(modem.name) does not answer")
            return
        }
        modem.record("network-connect \(connection.address) \(mode.rawValue)")
        let session = BridgeSession(connection: connection, serial: serial, modem: modem, mode: mode)
        let reason = await session.run()
        state.withLock { state in
            if state.session?.id == id { state.session?.ending = true }
        }
        if !Task.isCancelled {
            // Closing the slave flushes what the modem has not read yet: let it read the
            // client's last bytes first (the bank's reader wakes on them at once).
            try? await Task.sleep(for: .milliseconds(20))
        }
        await session.finish()
        serial.close()
        connection.close()
        _ = await waitForEngine(open: false, timeout: .seconds(1))
        modem.record("network-disconnect \(connection.address) \(reason)")
    }

    /// Waits until the bank sees the slave open (or closed); `false` after `timeout`, when
    /// cancelled, or once the modem is unplugged.
    private func waitForEngine(open: Bool, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while modem.engineSeesSlaveOpen != open {
            guard modem.mode != .unplugged else { return false }
            guard ContinuousClock.now < deadline else { return false }
            do { try await Task.sleep(for: .milliseconds(2)) } catch { return false }
        }
        return true
    }

    static func reason(_ error: SystemError) -> String {
        switch error {
        case .system(_, _, let errno): "\(errno)"
        case .unresolved(_, let reason): "the host name does not resolve (\(reason))"
        default: "\(error)"
        }
    }
}

/// One client's bridge to the modem's slave: the relays both ways and, in RFC 2217 mode,
/// the Telnet state, the COM-PORT-OPTION commands and the modem-line notifications.
private final class BridgeSession: Sendable {
    let connection: TCPConnection
    let serial: SerialPort
    let modem: EmulatedModem
    let mode: NetworkFrontEnd.Mode
    private let port = Mutex(PortState())

    /// How often the modem's lines are looked at for NOTIFY-MODEMSTATE.
    static let lineSampling: Duration = .milliseconds(5)

    /// The port as the client set it, and the Telnet state.
    private struct PortState {
        var telnet = TelnetNegotiation()
        var options = SerialOptions()
        var dtr = true
        var rts = true
        var breakOn = false
        var modemStateMask: UInt8 = 255
        var lineStateMask: UInt8 = 0
        /// FLOWCONTROL-SUSPEND: the client wants no data for now.
        var suspended = false
        /// The lines last reported; `nil` until the first report after negotiation.
        var reported: ModemLines?
        /// The client asked for the modem state (NOTIFY-MODEMSTATE with no value).
        var pollRequested = false

        /// The NOTIFY-MODEMSTATE to send for `lines`, if one is due: the first after
        /// negotiation, the answer to a poll, or a change the client's mask lets through
        /// (the value is masked too). `nil` before COM-PORT-OPTION is on.
        mutating func modemStateReport(lines: ModemLines) -> ModemStateReport? {
            guard telnet.comPortEnabled else { return nil }
            let changed = reported.map { $0 != lines } ?? false
            let state = ComPort.modemState(lines, previous: reported)
            let flipped = (ComPort.modemState(lines, previous: nil) ^ ComPort.modemState(reported ?? lines, previous: nil)) & 0xF0
            let wanted = ((state & 0x0F) | flipped) & modemStateMask != 0
            let first = reported == nil
            defer { reported = lines }
            guard first || pollRequested || (changed && wanted) else { return nil }
            pollRequested = false
            return ModemStateReport(
                message: ComPort.Message(.notifyModemState, fromServer: true, value: [state & modemStateMask]),
                lines: lines, isNews: first || changed)
        }
    }

    /// A NOTIFY-MODEMSTATE to send.
    private struct ModemStateReport {
        var message: ComPort.Message
        var lines: ModemLines
        /// The first report, or a change (not a repeat for a poll).
        var isNews: Bool
    }

    init(connection: TCPConnection, serial: SerialPort, modem: EmulatedModem, mode: NetworkFrontEnd.Mode) {
        self.connection = connection
        self.serial = serial
        self.modem = modem
        self.mode = mode
    }

    /// Relays until the client or the modem goes (or the task is cancelled); returns why.
    func run() async -> String {
        if mode == .rfc2217 {
            let opening = port.withLock { $0.telnet.opening() }
            do { try await connection.write(opening, deadline: .now + .seconds(2)) } catch { return Self.reason(error) }
        }
        return await withTaskGroup(of: String.self) { group in
            group.addTask { await self.clientToModem() }
            group.addTask { await self.modemToClient() }
            if mode == .rfc2217 { group.addTask { await self.reportModemLines() } }
            let first = await group.next() ?? "stopped"
            group.cancelAll()
            return first
        }
    }

    /// The last word before the connection closes: in RFC 2217 mode, the lines of a modem
    /// that was unplugged (all off).
    func finish() async {
        guard mode == .rfc2217 else { return }
        let lines = currentLines()
        guard let report = port.withLock({ $0.modemStateReport(lines: lines) }), report.isNews else { return }
        modem.record("rfc2217 modem-state \(lines)")
        try? await connection.write(report.message.encoded, deadline: .now + .milliseconds(200))
    }

    // MARK: Relays

    private func clientToModem() async -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var decoder = Telnet.Decoder(binary: false)
        while true {
            let count: Int
            do {
                guard let read = try connection.readNow(into: &buffer) else {
                    _ = try await connection.waitReadable(deadline: nil)
                    continue
                }
                count = read
            } catch {
                return Self.reason(error)
            }
            let bytes = buffer.prefix(count)
            if mode == .raw {
                do { try await serial.write(bytes, deadline: nil) } catch { return Self.reason(error) }
                continue
            }
            decoder.binary = port.withLock { $0.telnet.clientSendsBinary }
            for event in decoder.decode(bytes) {
                var reply: [UInt8] = []
                switch event {
                case .data(let data):
                    do { try await serial.write(data, deadline: nil) } catch { return Self.reason(error) }
                case .negotiation(let verb, let option):
                    reply = negotiate(verb, option)
                case .subnegotiation(Telnet.Option.comPort, let payload):
                    reply = comPortCommand(payload)
                case .subnegotiation, .command, .oversizedSubnegotiation:
                    break
                }
                if !reply.isEmpty {
                    do { try await connection.write(reply, deadline: nil) } catch { return Self.reason(error) }
                }
            }
        }
    }

    private func modemToClient() async -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count: Int
            do {
                while port.withLock({ $0.suspended }) { try await Task.sleep(for: .milliseconds(5)) }
                count = try await serial.read(into: &buffer, deadline: nil)
            } catch let error as SerialError {
                return Self.reason(error)
            } catch {
                return "stopped"
            }
            let bytes = buffer.prefix(count)
            let out = mode == .raw ? Array(bytes) : Telnet.escape(bytes, binary: port.withLock { $0.telnet.serverSendsBinary })
            do { try await connection.write(out, deadline: nil) } catch { return Self.reason(error) }
        }
    }

    /// Sends NOTIFY-MODEMSTATE when the modem's lines change (as the client's mask lets
    /// through), once after negotiation, and when the client asks.
    private func reportModemLines() async -> String {
        while true {
            do { try await Task.sleep(for: Self.lineSampling) } catch { return "stopped" }
            let lines = currentLines()
            guard let report = port.withLock({ $0.modemStateReport(lines: lines) }) else { continue }
            if report.isNews { modem.record("rfc2217 modem-state \(lines)") }
            do { try await connection.write(report.message.encoded, deadline: nil) } catch { return Self.reason(error) }
        }
    }

    /// The lines the modem drives: DCD (carrier, or always with `&C0`), DSR and CTS while
    /// it is powered, RI while it rings.
    private func currentLines() -> ModemLines {
        let status = modem.status
        var lines: ModemLines = []
        if status.mode != .unplugged { lines.formUnion([.dsr, .cts]) }
        if status.isCarrierDetected { lines.insert(.dcd) }
        if status.isRinging { lines.insert(.ri) }
        return lines
    }

    // MARK: Telnet and RFC 2217

    private func negotiate(_ verb: Telnet.Verb, _ option: UInt8) -> [UInt8] {
        port.withLock { port in
            let wasEnabled = port.telnet.comPortEnabled
            let reply = port.telnet.receive(verb, option)
            if port.telnet.comPortEnabled && !wasEnabled {
                modem.record("rfc2217 negotiated")
                // The first NOTIFY-MODEMSTATE goes out with the next look at the lines.
                port.reported = nil
                port.pollRequested = true
            }
            return reply
        }
    }

    /// Carries out a COM-PORT-OPTION command from the client; returns the server's answer.
    private func comPortCommand(_ payload: [UInt8]) -> [UInt8] {
        guard let message = ComPort.Message(payload: payload), !message.fromServer else { return [] }
        return port.withLock { port -> [UInt8] in
            guard port.telnet.comPortEnabled else {
                modem.record("rfc2217 ignored \(message.command) before COM-PORT-OPTION was negotiated")
                return []
            }
            func answer(_ value: [UInt8]) -> [UInt8] { ComPort.Message(message.command, fromServer: true, value: value).encoded }
            switch message.command {
            case .signature:
                if message.value.isEmpty { return answer(Array(NetworkFrontEnd.signature.utf8)) }
                modem.record("rfc2217 client-signature \(String(decoding: message.value, as: UTF8.self))")
                return []
            case .setBaudRate:
                if let requested = message.number, requested != 0 {
                    if let speed = BaudRate(rawValue: Int(requested)) {
                        var options = port.options
                        options.speed = speed
                        apply(&port, options)
                    }
                    modem.record("rfc2217 set-baudrate \(requested)\(port.options.speed.rawValue == Int(requested) ? "" : " refused")")
                }
                return answer(ComPort.bytes(of: UInt32(port.options.speed.rawValue)))
            case .setDataSize:
                // A pty is always 8N1: anything else is answered with what is in effect.
                recordRefusal(message, "datasize", inEffect: 8)
                return answer([8])
            case .setParity:
                recordRefusal(message, "parity", inEffect: ComPort.code(of: Parity.none))
                return answer([ComPort.code(of: Parity.none)])
            case .setStopSize:
                recordRefusal(message, "stopsize", inEffect: ComPort.code(of: StopBits.one))
                return answer([ComPort.code(of: StopBits.one)])
            case .setControl:
                return setControl(&port, message.byte).map { answer([$0.rawValue]) } ?? []
            case .notifyLineState:
                // Nothing is ever pending on a pty: both transmit registers empty.
                return answer([0x60 & port.lineStateMask])
            case .notifyModemState:
                port.pollRequested = true
                return []
            case .flowControlSuspend:
                port.suspended = true
                return []
            case .flowControlResume:
                port.suspended = false
                return []
            case .setLineStateMask:
                port.lineStateMask = message.byte
                return answer([message.byte])
            case .setModemStateMask:
                port.modemStateMask = message.byte
                return answer([message.byte])
            case .purgeData:
                guard let purge = ComPort.Purge(rawValue: message.byte) else { return [] }
                // Receive: what the modem sent that the client has not been given yet (the
                // slave's input); transmit: what the client sent that the modem has not read.
                let queue: SerialPort.Queue = switch purge {
                case .receive: .input
                case .transmit: .output
                case .both: .both
                }
                try? serial.flush(queue)
                modem.record("rfc2217 purge \(purge)")
                return answer([message.byte])
            }
        }
    }

    private func recordRefusal(_ message: ComPort.Message, _ name: String, inEffect effect: UInt8) {
        if message.byte != 0 && message.byte != effect {
            modem.record("rfc2217 set-\(name) \(message.byte) refused")
        }
    }

    /// SET-CONTROL: returns the value to answer, or `nil` for an unknown one.
    private func setControl(_ port: inout PortState, _ value: UInt8) -> ComPort.Control? {
        guard let control = ComPort.Control(rawValue: value) else { return nil }
        let flowAnswer: ComPort.Control = port.options.flowControl == .hardware ? .hardwareFlowControl : .noFlowControl
        let inboundAnswer: ComPort.Control = port.options.flowControl == .hardware ? .inboundHardwareFlowControl : .inboundNoFlowControl
        switch control {
        case .requestFlowControl:
            return flowAnswer
        case .noFlowControl, .hardwareFlowControl, .inboundNoFlowControl, .inboundHardwareFlowControl:
            let hardware = control == .hardwareFlowControl || control == .inboundHardwareFlowControl
            var options = port.options
            options.flowControl = hardware ? .hardware : .none
            apply(&port, options)
            modem.record("rfc2217 set-control flow-\(port.options.flowControl.rawValue)")
            let inbound = control == .inboundNoFlowControl || control == .inboundHardwareFlowControl
            return port.options.flowControl == .hardware
                ? (inbound ? .inboundHardwareFlowControl : .hardwareFlowControl)
                : (inbound ? .inboundNoFlowControl : .noFlowControl)
        case .softwareFlowControl, .dcdFlowControl, .dtrFlowControl:
            // XON/XOFF and the exotic handshakes are not offered: the answer says what is in effect.
            modem.record("rfc2217 set-control flow-\(control == .softwareFlowControl ? "xon-xoff" : control == .dcdFlowControl ? "dcd" : "dtr") refused")
            return flowAnswer
        case .requestInboundFlowControl:
            return inboundAnswer
        case .inboundSoftwareFlowControl, .dsrFlowControl:
            modem.record("rfc2217 set-control inbound-flow-\(control == .dsrFlowControl ? "dsr" : "xon-xoff") refused")
            return inboundAnswer
        case .requestBreak:
            return port.breakOn ? .breakOn : .breakOff
        case .breakOn, .breakOff:
            let on = control == .breakOn
            if on != port.breakOn { modem.record("rfc2217 set-control break-\(on ? "on" : "off")") }
            port.breakOn = on
            return control
        case .requestDTR:
            return port.dtr ? .dtrOn : .dtrOff
        case .dtrOn, .dtrOff:
            let on = control == .dtrOn
            if on != port.dtr { setDTR(&port, on) }
            return port.dtr ? .dtrOn : .dtrOff
        case .requestRTS:
            return port.rts ? .rtsOn : .rtsOff
        case .rtsOn, .rtsOff:
            let on = control == .rtsOn
            if on != port.rts { modem.record("rfc2217 set-control rts-\(on ? "on" : "off")") }
            port.rts = on
            return control
        }
    }

    /// Emulated DTR: off sets the slave's speed to B0, on restores the port's settings —
    /// what the bank's sampler reads as a DTR drop and raise.
    private func setDTR(_ port: inout PortState, _ on: Bool) {
        do {
            if on {
                try serial.configure(port.options)
            } else {
                _ = try serial.lowerDTR()
            }
            port.dtr = on
            modem.record("rfc2217 set-control dtr-\(on ? "on" : "off")")
        } catch {
            modem.record("rfc2217 set-control dtr-\(on ? "on" : "off") failed: \(error)")
        }
    }

    /// Applies line settings to the slave (while DTR is off only remembers them: the speed
    /// must stay B0 until DTR is raised).
    private func apply(_ port: inout PortState, _ options: SerialOptions) {
        if port.dtr {
            do { try serial.configure(options) } catch { return }
        }
        port.options = options
    }

    static func reason(_ error: SystemError) -> String {
        switch error {
        case .hangUp: "client closed the connection"
        case .cancelled, .closed: "stopped"
        default: "\(error)"
        }
    }

    static func reason(_ error: SerialError) -> String {
        switch error {
        case .hangUp: "modem hung up the port"
        case .cancelled, .closed: "stopped"
        default: "\(error)"
        }
    }
}
