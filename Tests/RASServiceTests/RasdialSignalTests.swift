import Foundation
import RAS
import RASService
import SystemIO
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A stand-in for `rasmand` that takes a dial and never lets it go, speaking the wire
/// protocol of DESIGN.md on the bench's socket: it answers `hello`, `dial` (handle
/// 0x00000001, then an `OpenPort` event), `status` (still dialing) and `enumConnections`;
/// a `hangUp` is never answered (``Mode/hangUpUnanswered``), or answered while the
/// connection stays forever (``Mode/hangUpNeverEnds``); `watch` is never answered. The
/// worst a client can meet — what `rasdial`'s bounds are for.
final class StuckDaemon: @unchecked Sendable {
    enum Mode: Sendable, CustomTestStringConvertible {
        case hangUpUnanswered, hangUpNeverEnds
        var testDescription: String {
            switch self {
            case .hangUpUnanswered: "hangUp never answered"
            case .hangUpNeverEnds: "hangUp answered, connection never removed"
            }
        }
    }

    static let handle = "0x00000001"

    let mode: Mode
    private let listener: UnixSocketListener
    private let lock = NSLock()
    private var operations: [String] = []
    private var connections: [UnixSocketConnection] = []
    private var tasks: [Task<Void, Never>] = []

    init(socket: String, mode: Mode) throws {
        self.mode = mode
        listener = try UnixSocketListener(path: socket)
        let server = Task { [self] in await serve() }
        lock.withLock { tasks.append(server) }
    }

    /// The `op` of every request received, in order.
    var received: [String] { lock.withLock { operations } }

    /// Stops listening and closes every connection.
    func stop() {
        let (tasks, connections) = lock.withLock { (self.tasks, self.connections) }
        tasks.forEach { $0.cancel() }
        listener.close()
        connections.forEach { $0.close() }
    }

    private func serve() async {
        while let connection = try? await listener.accept() {
            let talker = Task { [self] in await talk(connection) }
            lock.withLock {
                connections.append(connection)
                tasks.append(talker)
            }
        }
    }

    private func talk(_ connection: UnixSocketConnection) async {
        var buffer: [UInt8] = []
        while let bytes = try? await connection.read(deadline: nil), !bytes.isEmpty {
            buffer += bytes
            while let newline = buffer.firstIndex(of: 10) {
                let line = Data(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                guard let request = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                      let id = request["id"] as? Int, let op = request["op"] as? String else { continue }
                lock.withLock { operations.append(op) }
                for reply in replies(to: op, id: id) {
                    try? await connection.write(Array((reply + "\n").utf8), deadline: .now + .seconds(5))
                }
            }
        }
    }

    private func replies(to op: String, id: Int) -> [String] {
        let handle = Self.handle
        let dialing = #""handle":"\#(handle)","entryName":".5551234","state":"ConnectDevice","stateCode":2,"error":0,"errorName":"","errorMessage":"","deviceType":"modem","deviceName":"/dev/ttyFAKE","phoneNumber":"5551234""#
        switch op {
        case "hello":
            return [#"{"v":1,"id":\#(id),"ok":true,"server":{"version":1,"pid":\#(ProcessInfo.processInfo.processIdentifier),"uid":\#(getuid())}}"#]
        case "dial":
            return [
                #"{"v":1,"id":\#(id),"ok":true,"handle":"\#(handle)"}"#,
                #"{"v":1,"event":"state","subscription":\#(id),"notification":{"handle":"\#(handle)","state":"OpenPort","stateCode":0,"error":0,"errorName":"","errorMessage":""}}"#,
            ]
        case "status":
            return [#"{"v":1,"id":\#(id),"ok":true,"status":{\#(dialing)}}"#]
        case "enumConnections":
            return [#"{"v":1,"id":\#(id),"ok":true,"connections":[{\#(dialing)}]}"#]
        case "hangUp":
            return mode == .hangUpUnanswered ? [] : [#"{"v":1,"id":\#(id),"ok":true,"handles":["\#(handle)"]}"#]
        default:
            return []  // watch, subscribe, …: never answered
        }
    }
}

/// SIGTERM, SIGINT and SIGHUP to a `rasdial` that waits on rasmand: the first signal ends
/// the wait within the bound README.md documents (5 s after the signal), a second one at once.
@Suite(.timeLimit(.minutes(2)))
struct RasdialSignalTests {
    /// README.md's bound: rasdial waits this long after the first signal.
    static let bound = Duration.seconds(5)
    /// Slack for a loaded machine: a correctness check, not a benchmark.
    static let slack = Duration.seconds(10)

    /// Starts `rasdial arguments` against a ``StuckDaemon`` and waits until it has sent `op`.
    private func stuckRasdial(_ bench: Bench, _ daemon: StuckDaemon, _ arguments: [String], waitingFor op: String) async throws -> Spawned {
        let rasdial = try bench.startRasdial(arguments)
        let sent = await TestSupport.eventually(timeout: .seconds(10)) { daemon.received.contains(op) }
        try #require(sent, "rasdial sent \(op); daemon got \(daemon.received); stderr: \(rasdial.stderr)")
        return rasdial
    }

    @Test(arguments: [StuckDaemon.Mode.hangUpUnanswered, .hangUpNeverEnds])
    func sigtermDuringADialThatRasmandNeverEndsExitsWithinTheBound(mode: StuckDaemon.Mode) async throws {
        try await Bench.run("stuck-dial") { bench in
            let daemon = try StuckDaemon(socket: bench.socket, mode: mode)
            defer { daemon.stop() }
            let dialer = try await stuckRasdial(bench, daemon, ["--device", "/dev/ttyFAKE", "--phone", "5551234"], waitingFor: "dial")
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { dialer.stdout.contains("OpenPort (0)") })

            let start = ContinuousClock.now
            dialer.signal(SIGTERM)
            let status = try await dialer.waitForExit(timeout: Self.bound + Self.slack)
            let elapsed = ContinuousClock.now - start
            #expect(status == 1, "stderr: \(dialer.stderr)")
            #expect(elapsed < Self.bound + Self.slack)
            // It gave the hang-up its chance: requested it, and waited out the bound.
            #expect(daemon.received.contains("hangUp"), "requests: \(daemon.received)")
            #expect(elapsed >= Self.bound - .seconds(1), "exited after \(elapsed)")
            #expect(dialer.stderr.contains("error 631"), "stderr: \(dialer.stderr)")
            #expect(dialer.stderr.contains("SIGTERM"))
            #expect(dialer.stderr.contains("connection \(StuckDaemon.handle) continues in rasmand"), "stderr: \(dialer.stderr)")
        }
    }

    @Test func aSecondSignalExitsAtOnce() async throws {
        try await Bench.run("second-signal") { bench in
            let daemon = try StuckDaemon(socket: bench.socket, mode: .hangUpUnanswered)
            defer { daemon.stop() }
            let dialer = try await stuckRasdial(bench, daemon, ["--device", "/dev/ttyFAKE", "--phone", "5551234"], waitingFor: "dial")
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { dialer.stdout.contains("OpenPort (0)") })
            dialer.signal(SIGTERM)
            // The first signal was handled: the hang-up was requested.
            #expect(await TestSupport.eventually(timeout: .seconds(3)) { daemon.received.contains("hangUp") })

            let start = ContinuousClock.now
            dialer.signal(SIGINT)
            let status = try await dialer.waitForExit(timeout: Self.bound + Self.slack)
            let elapsed = ContinuousClock.now - start
            #expect(status == 1)
            // Well below what is left of the first signal's bound.
            #expect(elapsed < .seconds(3), "exited \(elapsed) after the second signal")
            let lines = dialer.stderr.split(separator: "\n")
            #expect(lines.count == 1, "stderr: \(dialer.stderr)")
            #expect(lines.first?.contains("error 631") == true)
            #expect(lines.first?.contains("SIGINT again: exiting at once") == true, "stderr: \(dialer.stderr)")
            #expect(lines.first?.contains(StuckDaemon.handle) == true)
        }
    }

    @Test(arguments: [StuckDaemon.Mode.hangUpUnanswered, .hangUpNeverEnds])
    func sigtermDuringADisconnectThatRasmandNeverEndsExitsWithinTheBound(mode: StuckDaemon.Mode) async throws {
        try await Bench.run("stuck-disconnect") { bench in
            let daemon = try StuckDaemon(socket: bench.socket, mode: mode)
            defer { daemon.stop() }
            let hangUp = try await stuckRasdial(bench, daemon, ["--disconnect", "--handle", StuckDaemon.handle], waitingFor: "hangUp")

            let start = ContinuousClock.now
            hangUp.signal(SIGTERM)
            let status = try await hangUp.waitForExit(timeout: Self.bound + Self.slack)
            let elapsed = ContinuousClock.now - start
            #expect(status == 1, "stderr: \(hangUp.stderr)")
            #expect(elapsed < Self.bound + Self.slack)
            #expect(elapsed >= Self.bound - .seconds(1), "exited after \(elapsed)")
            #expect(hangUp.stderr.contains("error 631"), "stderr: \(hangUp.stderr)")
            #expect(hangUp.stderr.contains("continues in rasmand"), "stderr: \(hangUp.stderr)")
            #expect(hangUp.stderr.contains("connection \(StuckDaemon.handle)"))
        }
    }

    @Test func watchEndsAtOnceEvenWhenRasmandDoesNotAnswer() async throws {
        try await Bench.run("stuck-watch") { bench in
            let daemon = try StuckDaemon(socket: bench.socket, mode: .hangUpUnanswered)
            defer { daemon.stop() }
            let watcher = try await stuckRasdial(bench, daemon, ["--watch"], waitingFor: "watch")
            let start = ContinuousClock.now
            watcher.signal(SIGINT)
            #expect(try await watcher.waitForExit(timeout: Self.bound + Self.slack) == 0, "stderr: \(watcher.stderr)")
            #expect(ContinuousClock.now - start < .seconds(3))
        }
    }
}
