import Foundation
import Serial
import Synchronization
import SystemIO
import Testing
import TestSupport

/// A terminal server written for these tests, behaving as told: a well-behaved RFC 2217
/// server, one that refuses COM-PORT-OPTION, one that says nothing, one that sends garbage.
final class ScriptedTerminalServer: Sendable {
    enum Behaviour: Sendable {
        /// Answers negotiation and settings; `answersDTR` false leaves SET-CONTROL about DTR
        /// unanswered (ser2net in front of a pty); `speed` overrides the speed it confirms.
        case rfc2217(answersDTR: Bool, speed: Int?)
        case refusesComPort
        case silent
        case garbage
        /// Plain bytes (a raw TCP modem).
        case raw
    }

    struct Log: Sendable {
        var data: [UInt8] = []
        var messages: [ComPort.Message] = []
        var negotiations: [Telnet.Event] = []
    }

    let listener: TCPListener
    let behaviour: Behaviour
    private let client = Mutex<TCPConnection?>(nil)
    private let log = Mutex(Log())
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(_ behaviour: Behaviour) throws {
        listener = try TCPListener(host: "127.0.0.1", port: 0)
        self.behaviour = behaviour
        let task = Task { [self] in await serve() }
        self.task.withLock { $0 = task }
    }

    var port: Int { listener.port }
    var url: String {
        if case .raw = behaviour { return "tcp://127.0.0.1:\(port)" }
        return "rfc2217://127.0.0.1:\(port)"
    }
    var received: Log { log.withLock { $0 } }

    /// Sends `bytes` as they are.
    func send(_ bytes: [UInt8]) async throws {
        guard let connection = client.withLock({ $0 }) else { throw SystemError.closed(path: "no client") }
        try await connection.write(bytes, deadline: .now + .seconds(2))
    }

    /// Sends NOTIFY-MODEMSTATE for `lines`.
    func notify(_ lines: ModemLines) async throws {
        try await send(ComPort.Message(.notifyModemState, fromServer: true, value: [ComPort.modemState(lines, previous: nil)]).encoded)
    }

    /// Waits until the log satisfies `condition` (at most 2 s).
    func waitFor(_ condition: (Log) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            if log.withLock({ condition($0) }) { return true }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return false
    }

    /// Drops the client and stops listening (a server that dies).
    func stop() {
        task.withLock { $0 }?.cancel()
        client.withLock { $0 }?.close()
        listener.close()
    }

    private func serve() async {
        guard let connection = try? await listener.accept() else { return }
        client.withLock { $0 = connection }
        var decoder = Telnet.Decoder()
        var buffer = [UInt8](repeating: 0, count: 4096)
        if case .garbage = behaviour {
            try? await connection.write(Array("SSH-2.0-OpenSSH_9.2\r\n".utf8) + [0xFF, 0x17, 0x00, 0xFA, 0x01])
        }
        while !Task.isCancelled {
            let count: Int?
            do { count = try connection.readNow(into: &buffer) } catch { return }
            guard let count else {
                guard (try? await connection.waitReadable(deadline: nil)) != nil else { return }
                continue
            }
            let bytes = Array(buffer[..<count])
            if case .raw = behaviour {
                log.withLock { $0.data += bytes }
                continue
            }
            var reply: [UInt8] = []
            for event in decoder.decode(bytes) {
                switch event {
                case .data(let data): log.withLock { $0.data += data }
                case .negotiation(let verb, let option):
                    log.withLock { $0.negotiations.append(event) }
                    reply += answer(verb, option)
                case .subnegotiation(Telnet.Option.comPort, let payload):
                    guard let message = ComPort.Message(payload: payload) else { continue }
                    log.withLock { $0.messages.append(message) }
                    reply += answer(message)
                default: break
                }
            }
            if !reply.isEmpty { try? await connection.write(reply) }
        }
    }

    private func answer(_ verb: Telnet.Verb, _ option: UInt8) -> [UInt8] {
        switch behaviour {
        case .silent, .garbage, .raw: return []
        case .refusesComPort:
            return verb == .will || verb == .do ? Telnet.negotiation(verb == .will ? .dont : .wont, option) : []
        case .rfc2217:
            switch verb {
            case .will: return Telnet.negotiation(.do, option)
            case .do: return Telnet.negotiation(.will, option)
            case .wont, .dont: return []
            }
        }
    }

    private func answer(_ message: ComPort.Message) -> [UInt8] {
        guard case .rfc2217(let answersDTR, let speed) = behaviour else { return [] }
        var value = message.value
        switch message.command {
        case .setBaudRate: if let speed { value = ComPort.bytes(of: UInt32(speed)) }
        case .setControl:
            if !answersDTR, (7...9).contains(message.byte) { return [] }
        case .notifyModemState: value = [0]
        default: break
        }
        return ComPort.Message(message.command, fromServer: true, value: value).encoded
    }
}

@Suite("Network ports (RFC 2217 and raw TCP) against scripted servers")
struct NetworkPortTests {
    let quick = NetworkPort.Timeouts(
        connect: .seconds(2), negotiation: .milliseconds(300), confirmation: .milliseconds(300), control: .milliseconds(100))

    func open(_ server: ScriptedTerminalServer, options: SerialOptions = SerialOptions()) async throws -> NetworkPort {
        try await NetworkPort.open(try NetworkPortAddress(server.url), options: options, timeouts: quick)
    }

    @Test func negotiatesAndConfirmsTheSettings() async throws {
        let server = try ScriptedTerminalServer(.rfc2217(answersDTR: true, speed: nil))
        defer { server.stop() }
        let port = try await open(server, options: SerialOptions(speed: .b57600, flowControl: .hardware))
        defer { port.close() }
        let log = server.received
        #expect(log.negotiations.contains(.negotiation(.will, Telnet.Option.comPort)))
        #expect(log.negotiations.contains(.negotiation(.will, Telnet.Option.binary)))
        #expect(log.negotiations.contains(.negotiation(.do, Telnet.Option.binary)))
        #expect(log.messages.contains(ComPort.Message(.setBaudRate, fromServer: false, value: ComPort.bytes(of: 57600))))
        #expect(log.messages.contains(ComPort.Message(.setParity, fromServer: false, value: [1])))
        #expect(log.messages.contains(ComPort.Message(.setControl, fromServer: false, value: [3])))
        #expect(try port.currentOptions().speed == .b57600)
        // A speed the data path asks for later is sent and its confirmation reported.
        try port.configure(SerialOptions(speed: .b19200, flowControl: .hardware))
        #expect(await server.waitFor { $0.messages.contains(ComPort.Message(.setBaudRate, fromServer: false, value: ComPort.bytes(of: 19200))) })
        try await Task.sleep(for: .milliseconds(20))
        #expect(try port.currentOptions().speed == .b19200)
    }

    @Test func aSpeedTheServerDidNotTakeIsRefused() async throws {
        let server = try ScriptedTerminalServer(.rfc2217(answersDTR: true, speed: 9600))
        defer { server.stop() }
        await #expect(throws: SerialError.unsupportedSpeed(115_200, path: "\(server.url) (the server set 9600)")) {
            _ = try await open(server)
        }
    }

    @Test func serversThatDoNotSpeakRFC2217GetAClearError() async throws {
        for behaviour in [ScriptedTerminalServer.Behaviour.refusesComPort, .silent, .garbage] {
            let server = try ScriptedTerminalServer(behaviour)
            defer { server.stop() }
            do {
                _ = try await open(server)
                Issue.record("\(behaviour): opened")
            } catch let error as SerialError {
                guard case .protocolViolation(let path, let reason) = error else {
                    Issue.record("\(behaviour): \(error)")
                    continue
                }
                #expect(path == server.url)
                #expect(reason.contains("RFC 2217"), "\(reason)")
            } catch {
                Issue.record("\(behaviour): \(error)")
            }
        }
    }

    @Test func refusedAndUnresolvableConnections() async throws {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        let free = listener.port
        listener.close()
        await #expect(throws: SerialError.system(operation: "connect", path: "rfc2217://127.0.0.1:\(free)", errno: .connectionRefused)) {
            _ = try await NetworkPort.open(try NetworkPortAddress("rfc2217://127.0.0.1:\(free)"), timeouts: quick)
        }
        do {
            _ = try await NetworkPort.open(try NetworkPortAddress("tcp://no-such-host.invalid:23"), timeouts: quick)
            Issue.record("resolved an .invalid name")
        } catch {
            guard case .unresolved(let path, _) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(path == "tcp://no-such-host.invalid:23")
        }
    }

    @Test func dataCrossesEscapedBothWays() async throws {
        let server = try ScriptedTerminalServer(.rfc2217(answersDTR: true, speed: nil))
        defer { server.stop() }
        let port = try await open(server)
        defer { port.close() }
        let payload: [UInt8] = Array(0...255) + [0xFF, 0xFF, 0x0D, 0x00]
        try await port.write(payload, deadline: .now + .seconds(2))
        #expect(await server.waitFor { $0.data == payload })
        try await server.send(Telnet.escape(payload))
        var got: [UInt8] = []
        while got.count < payload.count {
            let bytes = try await port.read(deadline: .now + .seconds(2))
            if bytes.isEmpty { break }
            got += bytes
        }
        #expect(got == payload)
    }

    @Test func modemLinesAndCarrierComeFromTheServersNotifications() async throws {
        let server = try ScriptedTerminalServer(.rfc2217(answersDTR: true, speed: nil))
        defer { server.stop() }
        let port = try await open(server)
        defer { port.close() }
        // The server answered the request made at open with every line low: DCD is not
        // known to be wired yet.
        #expect(await waitUntil { (try? port.modemLines()) != nil })
        #expect(port.carrierDetect() == nil)
        try await server.notify([.dcd, .cts, .dsr])
        #expect(await waitUntil { port.carrierDetect() == true })
        #expect(try port.modemLines().isSuperset(of: [.dcd, .cts, .dsr, .dtr, .rts]))
        try await server.notify([.cts, .dsr])
        #expect(await waitUntil { port.carrierDetect() == false })
        // DTR requests reach the server in order.
        let method = try port.lowerDTR()
        #expect(method == .remoteControl)
        try port.raiseDTR(after: method)
        #expect(await server.waitFor { log in
            let controls = log.messages.filter { $0.command == .setControl }.map(\.byte)
            return controls.suffix(2) == [ComPort.Control.dtrOff.rawValue, ComPort.Control.dtrOn.rawValue]
        })
        #expect(try !port.modemLines().contains(.dcd))
    }

    @Test func aServerThatIgnoresDTRIsNoticedAndNotWaitedFor() async throws {
        let server = try ScriptedTerminalServer(.rfc2217(answersDTR: false, speed: nil))
        defer { server.stop() }
        let port = try await open(server)
        defer { port.close() }
        try await Task.sleep(for: quick.control + .milliseconds(20))
        let start = ContinuousClock.now
        #expect(throws: SerialError.self) { _ = try port.lowerDTR() }
        #expect(start.duration(to: .now) < .milliseconds(50))
        #expect(port.deviceIsPresent)
    }

    @Test func aServerThatGoesAwayIsAHangUpWithTheDeviceGone() async throws {
        let server = try ScriptedTerminalServer(.rfc2217(answersDTR: true, speed: nil))
        let port = try await open(server)
        defer { port.close() }
        #expect(port.deviceIsPresent)
        server.stop()
        await #expect(throws: SerialError.hangUp(path: server.url)) {
            _ = try await port.read(deadline: .now + .seconds(2))
        }
        #expect(!port.deviceIsPresent)
    }

    @Test func purgeAndBreakAreRequested() async throws {
        let server = try ScriptedTerminalServer(.rfc2217(answersDTR: true, speed: nil))
        defer { server.stop() }
        let port = try await open(server)
        defer { port.close() }
        try await server.send(Array("stale".utf8))
        try await Task.sleep(for: .milliseconds(20))
        try port.flush(.input)
        #expect(try await port.read(deadline: .now + .milliseconds(30)).isEmpty)
        try await port.sendBreak(duration: .milliseconds(10))
        #expect(await server.waitFor { log in
            log.messages.contains(ComPort.Message(.purgeData, fromServer: false, value: [1]))
                && log.messages.map(\.byte).contains(ComPort.Control.breakOn.rawValue)
                && log.messages.map(\.byte).contains(ComPort.Control.breakOff.rawValue)
        })
    }

    @Test func rawTCPCarriesBytesAsTheyAre() async throws {
        let server = try ScriptedTerminalServer(.raw)
        defer { server.stop() }
        let port = try await open(server)
        defer { port.close() }
        try await port.write([0x41, 0xFF, 0x42], deadline: .now + .seconds(1))
        #expect(await server.waitFor { $0.data == [0x41, 0xFF, 0x42] })
        try await server.send([0xFF, 0xFB, 0x2C])
        #expect(try await port.read(deadline: .now + .seconds(1)) == [0xFF, 0xFB, 0x2C])
        #expect(throws: SerialError.self) { _ = try port.modemLines() }
        #expect(throws: SerialError.self) { _ = try port.lowerDTR() }
        #expect(port.carrierDetect() == nil)
    }

    @Test func closingLeavesNoDescriptorBehind() async throws {
        let before = openDescriptorCount()
        for _ in 0..<5 {
            let server = try ScriptedTerminalServer(.rfc2217(answersDTR: true, speed: nil))
            let port = try await open(server)
            port.close()
            server.stop()
        }
        let silent = try ScriptedTerminalServer(.silent)
        _ = try? await open(silent)
        silent.stop()
        try await Task.sleep(for: .milliseconds(50))
        #expect(openDescriptorCount() <= before)
    }

    private func waitUntil(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return false
    }

    private func openDescriptorCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }
}
