import Foundation
import RAS
import RASService
import SystemIO
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 15, part 3: clients that connect and send nothing, send an endless line, flood
/// requests, or never read their notifications. While each runs (a real `rasmand`, a real
/// socket, `Benchmarks/hostile-clients.py`), a normal client is still answered, and the
/// daemon's memory and descriptors stay bounded. Deadlines are generous; the precise
/// figures are in BENCHMARKS.md (`hostile-clients.py measure`).
@Suite(.timeLimit(.minutes(2)))
struct HostileClientSecurityTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Benchmarks/hostile-clients.py").path

    /// Starts one hostile client (as nobody when the tests can, so the per-user limit applies).
    private func hostile(_ bench: Bench, _ mode: String, _ amount: Int, hold: Int = 30) throws -> Spawned {
        let arguments = [Self.script, mode, bench.socket, "\(amount)", "\(hold)"]
        if Hostile.otherUserMissing == nil, let setpriv = TwoUsers.setpriv {
            let child = try Spawned(URL(fileURLWithPath: setpriv),
                                    ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3"] + arguments,
                                    name: "hostile-\(mode)", folder: bench.folder)
            bench.adopt(child)
            return child
        }
        let child = try Spawned(URL(fileURLWithPath: "/usr/bin/python3"), arguments, name: "hostile-\(mode)", folder: bench.folder)
        bench.adopt(child)
        return child
    }

    /// A normal client is answered (a new connection each time: hello and a listing).
    private func normalClientIsServed(_ bench: Bench) async -> Bool {
        await TestSupport.eventually(timeout: .seconds(10)) {
            guard let client = try? await RASClient.connect(socketPath: bench.socket) else { return false }
            defer { Task { await client.close() } }
            guard (try? await client.hello()) != nil else { return false }
            return (try? await client.enumConnections()) != nil
        }
    }

    @Test func hostileClientsStallNobodyAndStayBounded() async throws {
        if let missing = Hostile.otherUserMissing {
            print("hostile clients run as root, so the per-user limit is not exercised: \(missing)")
        }
        let asNobody = Hostile.otherUserMissing == nil
        try await Bench.run("hostile") { bench in
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bench.folder)
            let modems = try await bench.startFakeModems()
            let daemon = try await bench.startDaemon(extra: [
                "--socket-mode", "0666", "--no-discovery", "--max-clients", "48", "--max-clients-per-user", "16",
            ])
            let pid = daemon.pid
            #expect(await normalClientIsServed(bench))
            let start = try #require(Hostile.residentKiB(pid))
            let startFDs = Hostile.descriptors(pid)
            var report: [String] = []
            func bounded(_ label: String) {
                let now = Hostile.residentKiB(pid) ?? 0
                report.append("\(label): RSS \(start / 1024) → \(now / 1024) MiB, fds \(startFDs) → \(Hostile.descriptors(pid))")
                #expect(now - start < 64 * 1024, "\(label): RSS grew from \(start) to \(now) KiB")
            }

            // 1. Idle clients: past the limit they are refused with error 8, not kept.
            let idle = try hostile(bench, "idle", 100)
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { idle.stdout.contains("refused") }, "\(idle.stderr)")
            let admitted = asNobody ? 16 : 48
            #expect(idle.stdout.contains("refused \(100 - admitted) of 100"), "\(idle.stdout)")
            #expect(Hostile.descriptors(pid) <= startFDs + admitted + 4, "the idle clients hold at most their limit of descriptors")
            if asNobody {
                #expect(await normalClientIsServed(bench), "root gets in while nobody is at its limit")
                let more = try await Hostile.asNobody(bench, [bench.socket, "0", #"{"v":1,"id":1,"op":"hello"}"#])
                #expect(Hostile.errorCode(Hostile.frames(more).first) == 8, "nobody's 17th client is refused: \(more.stdout)")
                #expect(more.stdout.contains("--max-clients-per-user"), "\(more.stdout)")
            }
            bounded("idle")
            idle.signal(SIGKILL)
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { Hostile.descriptors(pid) <= startFDs + 2 },
                    "the idle clients' descriptors are closed when they leave")

            // 2. One endless line (64 MiB without a newline): one error, the rest skipped.
            let endless = try hostile(bench, "endless", 64 << 20)
            #expect(await normalClientIsServed(bench))
            #expect(await TestSupport.eventually(timeout: .seconds(20)) { endless.stdout.contains("sent") }, "\(endless.stderr)")
            #expect(await normalClientIsServed(bench))
            bounded("endless line")
            endless.signal(SIGKILL)

            // 3. A flood of requests whose answers are never read: the session stops reading
            //    (its answers wait in the socket), then drops the client.
            let flood = try hostile(bench, "flood", 1_000_000)
            #expect(await TestSupport.eventually(timeout: .seconds(20)) { flood.stdout.contains("sent") }, "\(flood.stderr)")
            #expect(flood.stdout.contains("blocked after"), "the daemon stops taking requests it cannot answer: \(flood.stdout)")
            #expect(await normalClientIsServed(bench))
            bounded("flood")
            flood.signal(SIGKILL)

            // 4. A client that subscribes and never reads: capped at 64 subscriptions, and
            //    dropped once its events do not leave within 5 s; dials go on meanwhile.
            let deaf = try hostile(bench, "deaf", 70)
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { deaf.stdout.contains("refused") }, "\(deaf.stderr)")
            #expect(deaf.stdout.contains("refused 6 of 70"), "\(deaf.stdout)")
            let client = try await bench.client()
            // Its log lines carry "client=pid N uid U" (setpriv execs python: the same pid).
            let dropped = { daemon.stderr.split(separator: "\n").contains { $0.contains("dropping client") && $0.contains("pid \(deaf.pid) ") } }
            var cycles = 0
            while !dropped(), cycles < 30 {
                let dial = try await client.dial(.number("5551234", device: modems.links[0]))
                #expect(await collectUntilTerminal(dial.notifications).last?.state == .connected)
                try await client.hangUp(dial.handle)
                #expect(await waitUntilGone(dial.handle, on: client))
                cycles += 1
            }
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { dropped() },
                    "the deaf client is dropped after \(cycles) dial cycles")
            #expect(await normalClientIsServed(bench))
            bounded("deaf")
            deaf.signal(SIGKILL)
            print("hostile clients: " + report.joined(separator: "; "))
            #expect(daemon.isRunning)
        }
    }

    /// A subscription id that is already open is refused (87): it used to replace the open
    /// subscription's task without cancelling it, so that task kept the session alive and
    /// its events flowing after the client left.
    @Test func aSubscriptionIdCannotBeReused() async throws {
        try await Bench.run("dup-id") { bench in
            _ = try await bench.startDaemon(extra: ["--no-discovery"])
            let raw = try await RawClient.connect(bench.socket)
            try await raw.send(#"{"v":1,"id":1,"op":"watch"}"# + "\n")
            #expect(try await raw.frame()?["ok"] as? Bool == true)
            try await raw.send(#"{"v":1,"id":1,"op":"watch"}"# + "\n")
            let again = try #require(try await raw.frame())
            #expect(Hostile.errorCode(again) == 87, "\(again)")
            #expect(((again["error"] as? [String: Any])?["detail"] as? String)?.contains("open subscription") == true)
            try await raw.send(#"{"v":1,"id":2,"op":"unsubscribe","subscription":1}"# + "\n")
            #expect(try await raw.frame()?["ok"] as? Bool == true)
            try await raw.send(#"{"v":1,"id":1,"op":"watch"}"# + "\n")
            #expect(try await raw.frame()?["ok"] as? Bool == true, "the id is free again once unsubscribed")
        }
    }
}
