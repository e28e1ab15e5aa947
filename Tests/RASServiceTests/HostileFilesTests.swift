import Foundation
import RAS
import RASService
import Serial
import SystemIO
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Files other users can plant where the daemon looks: FIFOs, links and devices in the lock
/// directory and as phonebooks, against the real `rasmand` and `rasdial`.
@Suite(.timeLimit(.minutes(2)))
struct HostileFilesTests {
    /// The lock file the daemon uses for a fake modem's pty.
    private func lockFile(_ bench: Bench, _ slave: String) -> String {
        bench.lockDir + "/" + UUCPLock.lockName(for: slave)
    }

    @Test func fifosInTheLockDirectoryDoNotFreezeTheDaemon() async throws {
        try await Bench.run("fifo-lock") { bench in
            let modems = try await bench.startFakeModems(count: 3)
            _ = try await bench.startDaemon()
            // One FIFO per modem the daemon could have threads for: before, each dial's lock
            // check blocked a thread in open(2) and the daemon stopped answering.
            let fifos = [lockFile(bench, modems.slaves[0]), lockFile(bench, modems.slaves[1])]
            for fifo in fifos { try #require(mkfifo(fifo, 0o666) == 0) }
            defer { for fifo in fifos { Self.unblock(fifo) } }

            async let first = bench.rasdial(["--device", modems.links[0], "--phone", "5551234"], timeout: .seconds(30))
            async let second = bench.rasdial(["--device", modems.links[1], "--phone", "5555678"], timeout: .seconds(30))
            for result in try await [first, second] {
                #expect(result.status == 1)
                #expect(result.stderr.contains("error 633") && result.stderr.contains("FIFO"), "stderr: \(result.stderr)")
            }
            // The daemon answers, and a modem whose lock directory entry is sane still dials.
            let list = try await bench.rasdial([])
            #expect(list.status == 0 && list.stdout.contains("No connections"), "\(list.stdout) \(list.stderr)")
            #expect(try await bench.rasdial(["--device", modems.links[2], "--phone", "5550001"]).status == 0)
            // The ports behind the FIFOs were never opened: their modems heard nothing.
            #expect(!modems.transcript.contains("modem0 <<") && !modems.transcript.contains("modem1 <<"))
            // The FIFOs are left where they are (they are not ours to remove).
            for fifo in fifos { #expect(try FileStatus.of(fifo, followLinks: false).kind == .fifo) }
            #expect(try await bench.rasdial(["--disconnect"]).status == 0)
        }
    }

    @Test func aLinkPlantedAsLockFileIsNeitherFollowedNorRemoved() async throws {
        try await Bench.run("link-lock") { bench in
            let modems = try await bench.startFakeModems()
            _ = try await bench.startDaemon()
            // Followed, this file (a dead PID) would look like a stale lock and be deleted.
            let victim = bench.folder + "/victim"
            try String(format: "%10d\n", Int32.max - 1).write(toFile: victim, atomically: true, encoding: .ascii)
            try FileManager.default.createSymbolicLink(atPath: lockFile(bench, modems.slaves[0]), withDestinationPath: victim)
            let result = try await bench.rasdial(["--device", modems.links[0], "--phone", "5551234"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("error 633") && result.stderr.contains("symbolic link"), "stderr: \(result.stderr)")
            #expect(FileManager.default.fileExists(atPath: victim))
            #expect(!modems.transcript.contains("modem0 <<"))
        }
    }

    @Test func aFIFOOrADeviceAsPhonebookIs621() async throws {
        try await Bench.run("fifo-pbk") { bench in
            _ = try await bench.startDaemon()
            let fifo = bench.folder + "/rasphone.pbk"
            try #require(mkfifo(fifo, 0o666) == 0)
            defer { Self.unblock(fifo) }
            for (path, kind) in [(fifo, "FIFO"), ("/dev/zero", "character device")] {
                // Through the daemon (a dial) and read by rasdial itself (--entries).
                let dial = try await bench.rasdial(["Work", "--phonebook", path], timeout: .seconds(30))
                #expect(dial.status == 1)
                #expect(dial.stderr.contains("error 621") && dial.stderr.contains(kind), "stderr: \(dial.stderr)")
                let entries = try await bench.rasdial(["--entries", "--phonebook", path], timeout: .seconds(30))
                #expect(entries.status == 1)
                #expect(entries.stderr.contains("error 621") && entries.stderr.contains(kind), "stderr: \(entries.stderr)")
            }
            #expect(try await bench.rasdial([]).status == 0)
        }
    }

    @Test func theDaemonReclaimsItsPortsStaleLocksAtStart() async throws {
        try await Bench.run("reclaim") { bench in
            let modems = try await bench.startFakeModems(count: 3)
            let dead = try TestSupport.deadPID()
            let stale = lockFile(bench, modems.slaves[0])
            let garbage = lockFile(bench, modems.slaves[1])
            try String(format: "%10d\n", dead).write(toFile: stale, atomically: true, encoding: .ascii)
            try "not a pid".write(toFile: garbage, atomically: true, encoding: .ascii)
            // A live holder's lock and a FIFO stay.
            let live = lockFile(bench, modems.slaves[2])
            try String(format: "%10d\n", 1).write(toFile: live, atomically: true, encoding: .ascii)
            let daemon = try await bench.startDaemon(extra: modems.links.flatMap { ["--device", $0] })
            // No dial: the locks are gone once the daemon is ready.
            #expect(!FileManager.default.fileExists(atPath: stale))
            #expect(!FileManager.default.fileExists(atPath: garbage))
            #expect(FileManager.default.fileExists(atPath: live))
            #expect(daemon.stderr.contains("removed a stale lock"))
            #expect(daemon.stderr.contains("\(dead)"))
        }
    }

    /// Opens a FIFO for writing without waiting, so that whatever still waits to read it
    /// (a regression) finishes and the test does not leave a stuck process behind.
    static func unblock(_ fifo: String) {
        let fd = open(fifo, O_WRONLY | O_NONBLOCK)
        if fd >= 0 { close(fd) }
    }
}

/// A daemon whose standard error nobody reads keeps serving (issue 10: it stopped in write(2)).
@Suite(.timeLimit(.minutes(2)))
struct BlockedLogTests {
    @Test func aLogNobodyReadsDoesNotStopDials() async throws {
        try await Bench.run("blocked-log") { bench in
            let modems = try await bench.startFakeModems()
            let daemon = Process()
            daemon.executableURL = try Binaries.url("rasmand")
            daemon.arguments = bench.daemonArguments.map { $0 == "debug" ? "trace" : $0 } + ["--device", modems.links[0]]
            let stderr = Pipe()
            // A 4 KiB pipe nobody reads: a few dials' worth of trace lines fill it.
            _ = fcntl(stderr.fileHandleForWriting.fileDescriptor, 1031 /* F_SETPIPE_SZ */, 4096)
            daemon.standardError = stderr
            daemon.standardOutput = FileHandle.nullDevice
            try daemon.run()
            defer {
                daemon.terminate()
                _ = try? stderr.fileHandleForReading.readToEnd()
                daemon.waitUntilExit()
            }
            #expect(await TestSupport.eventually(timeout: .seconds(20)) { UnixSocketListener.isListening(path: bench.socket) })
            let client = try await bench.client()
            for round in 0..<12 {
                let dial = try await client.dial(.number("555\(1000 + round)", device: modems.links[0]))
                #expect(await collectUntilTerminal(dial.notifications).last?.state == .connected, "round \(round)")
                try await client.hangUp(dial.handle)
                #expect(await waitUntilGone(dial.handle, on: client), "round \(round)")
            }
            #expect(await modems.waitForEvent("connect", count: 12))
        }
    }
}
