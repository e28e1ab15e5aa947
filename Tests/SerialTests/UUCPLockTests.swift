import Foundation
import Serial
import SystemIO
import Testing
import TestSupport

@Suite("UUCP lock files")
struct UUCPLockTests {
    let directory: URL
    init() throws { directory = try TestSupport.temporaryDirectory("locks") }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    @Test("lock names follow the UUCP/pppd convention, links resolved")
    func lockNames() throws {
        #expect(UUCPLock.lockName(for: "/dev/ttyS0") == "LCK..ttyS0")
        #expect(UUCPLock.lockName(for: "/dev/usb/ttyUSB0") == "LCK..usb_ttyUSB0")
        let pty = try PseudoTerminal()
        let link = path("modem")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: pty.slavePath)
        let expected = "LCK.." + pty.slavePath.dropFirst(5).replacingOccurrences(of: "/", with: "_")
        #expect(UUCPLock.lockName(for: link) == expected)
        #expect(UUCPLock.lockName(for: pty.slavePath) == expected)
    }

    @Test("acquire writes the PID in ten columns; release removes it")
    func acquireRelease() throws {
        let lock = try UUCPLock.acquire(device: "/dev/ttyUSB0", directory: directory.path)
        #expect(lock.lockFile == path("LCK..ttyUSB0"))
        let content = try String(contentsOfFile: lock.lockFile, encoding: .ascii)
        #expect(content == String(format: "%10d\n", getpid()))
        #expect(content.count == 11)
        let mode = try FileManager.default.attributesOfItem(atPath: lock.lockFile)[.posixPermissions] as? Int
        #expect(mode == 0o644)
        lock.release()
        #expect(!FileManager.default.fileExists(atPath: lock.lockFile))
        lock.release()
    }

    @Test("a live holder is refused with its PID named")
    func liveLockRefused() throws {
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
        let pid = sleeper.processIdentifier
        try String(format: "%10d\n", pid).write(toFile: path("LCK..ttyS1"), atomically: true, encoding: .ascii)
        #expect(throws: SerialError.locked(path: "/dev/ttyS1", lockFile: path("LCK..ttyS1"), pid: pid)) {
            try UUCPLock.acquire(device: "/dev/ttyS1", directory: directory.path)
        }
        #expect(UUCPLock.holder(of: "/dev/ttyS1", directory: directory.path) == pid)
        #expect(FileManager.default.fileExists(atPath: path("LCK..ttyS1")), "a live lock is never removed")
    }

    @Test("a lock we hold ourselves counts as held")
    func ownLockHeld() throws {
        let lock = try UUCPLock.acquire(device: "/dev/ttyS2", directory: directory.path)
        defer { lock.release() }
        #expect(throws: SerialError.locked(path: "/dev/ttyS2", lockFile: lock.lockFile, pid: getpid())) {
            try UUCPLock.acquire(device: "/dev/ttyS2", directory: directory.path)
        }
    }

    @Test("stale locks are reclaimed: dead PID, garbage, empty, zero", arguments: ["dead", "garbage", "empty", "zero"])
    func staleReclaimed(kind: String) throws {
        let file = path("LCK..ttyACM0")
        switch kind {
        case "dead": try String(format: "%10d\n", try TestSupport.deadPID()).write(toFile: file, atomically: true, encoding: .ascii)
        case "garbage": try "not a pid\n".write(toFile: file, atomically: true, encoding: .ascii)
        case "empty": _ = FileManager.default.createFile(atPath: file, contents: Data())
        default: try "         0\n".write(toFile: file, atomically: true, encoding: .ascii)
        }
        #expect(UUCPLock.holder(of: "/dev/ttyACM0", directory: directory.path) == nil)
        let lock = try UUCPLock.acquire(device: "/dev/ttyACM0", directory: directory.path)
        #expect(try String(contentsOfFile: file, encoding: .ascii) == String(format: "%10d\n", getpid()))
        lock.release()
    }

    @Test("a holder that died but was not reaped (a zombie) holds nothing")
    func zombieHolderIsStale() throws {
        // sh starts `true` in the background, prints its PID and becomes `sleep`, which
        // never reaps it: `true` stays a zombie while the sleep lives.
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "true & echo $!; exec sleep 10"]
        let output = Pipe()
        shell.standardOutput = output
        try shell.run()
        defer { kill(shell.processIdentifier, SIGKILL); shell.waitUntilExit() }
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        let zombie = try #require(Int32(line.trimmingCharacters(in: .whitespacesAndNewlines)))
        Thread.sleep(forTimeInterval: 0.1)
        #expect(kill(zombie, 0) == 0, "the zombie still has its PID")
        #expect(!ProcessIdentity.isAlive(zombie))
        try String(format: "%10d\n", zombie).write(toFile: path("LCK..ttyS6"), atomically: true, encoding: .ascii)
        #expect(UUCPLock.holder(of: "/dev/ttyS6", directory: directory.path) == nil)
        let lock = try UUCPLock.acquire(device: "/dev/ttyS6", directory: directory.path)
        lock.release()
    }

    @Test("the old 4-byte binary form is read")
    func binaryForm() throws {
        var pid = getpid()
        let data = Data(bytes: &pid, count: 4)
        try data.write(to: URL(fileURLWithPath: path("LCK..ttyS3")))
        #expect(UUCPLock.holder(of: "/dev/ttyS3", directory: directory.path) == getpid())
    }

    @Test("release leaves a lock that another process took over")
    func releaseOnlyOwn() throws {
        let lock = try UUCPLock.acquire(device: "/dev/ttyS4", directory: directory.path)
        let moved = try lock.transfer(to: 1)
        #expect(UUCPLock.holder(of: "/dev/ttyS4", directory: directory.path) == 1)
        lock.release()
        #expect(FileManager.default.fileExists(atPath: lock.lockFile))
        moved.release()
        #expect(!FileManager.default.fileExists(atPath: lock.lockFile))
    }

    @Test("an unwritable lock directory is a typed error")
    func unwritableDirectory() {
        #expect(throws: SerialError.self) {
            try UUCPLock.acquire(device: "/dev/ttyS5", directory: "/nonexistent-lock-dir")
        }
    }

    @Test("a FIFO as lock file is reported as held, without blocking, and left alone")
    func fifoLockFile() throws {
        let lockFile = path("LCK..ttyS7")
        try #require(mkfifo(lockFile, 0o666) == 0)
        let directory = self.directory.path
        let outcome = finishesPromptly(unblocking: [lockFile]) { () -> SerialError? in
            do throws(SerialError) { try UUCPLock.acquire(device: "/dev/ttyS7", directory: directory).release(); return nil } catch { return error }
        }
        #expect(outcome.finished, "acquire blocked on a FIFO")
        #expect(outcome.value == .badLockFile(path: "/dev/ttyS7", lockFile: lockFile, kind: .fifo))
        #expect(outcome.value?.description.contains("FIFO") == true)
        #expect(UUCPLock.holder(of: "/dev/ttyS7", directory: directory) == 0)
        #expect(UUCPLock.reclaimStale(device: "/dev/ttyS7", directory: directory) == .notALockFile(.fifo))
        #expect(try FileStatus.of(lockFile, followLinks: false).kind == .fifo, "never removed")
    }

    @Test("a link or folder as lock file is never followed, reclaimed or removed")
    func linkLockFile() throws {
        // A link to a file holding a dead PID: followed, it would look stale and be removed.
        let target = path("target")
        try String(format: "%10d\n", try TestSupport.deadPID()).write(toFile: target, atomically: true, encoding: .ascii)
        try FileManager.default.createSymbolicLink(atPath: path("LCK..ttyS8"), withDestinationPath: target)
        #expect(throws: SerialError.badLockFile(path: "/dev/ttyS8", lockFile: path("LCK..ttyS8"), kind: .symbolicLink)) {
            try UUCPLock.acquire(device: "/dev/ttyS8", directory: directory.path)
        }
        #expect(FileManager.default.fileExists(atPath: target))
        #expect(try FileStatus.of(path("LCK..ttyS8"), followLinks: false).kind == .symbolicLink)
        try FileManager.default.createDirectory(atPath: path("LCK..ttyS9"), withIntermediateDirectories: false)
        #expect(throws: SerialError.badLockFile(path: "/dev/ttyS9", lockFile: path("LCK..ttyS9"), kind: .directory)) {
            try UUCPLock.acquire(device: "/dev/ttyS9", directory: directory.path)
        }
    }

    @Test("reclaimStale removes dead, garbage and own-PID locks and keeps live ones")
    func reclaimAtStart() throws {
        let directory = self.directory.path
        try String(format: "%10d\n", try TestSupport.deadPID()).write(toFile: path("LCK..ttyS10"), atomically: true, encoding: .ascii)
        try "garbage".write(toFile: path("LCK..ttyS11"), atomically: true, encoding: .ascii)
        try String(format: "%10d\n", getpid()).write(toFile: path("LCK..ttyS12"), atomically: true, encoding: .ascii)
        try String(format: "%10d\n", 1).write(toFile: path("LCK..ttyS13"), atomically: true, encoding: .ascii)
        guard case .removed = UUCPLock.reclaimStale(device: "/dev/ttyS10", directory: directory) else {
            Issue.record("dead PID kept"); return
        }
        #expect(UUCPLock.reclaimStale(device: "/dev/ttyS11", directory: directory) == .removed(pid: 0))
        #expect(UUCPLock.reclaimStale(device: "/dev/ttyS12", directory: directory) == .removed(pid: getpid()))
        #expect(UUCPLock.reclaimStale(device: "/dev/ttyS13", directory: directory) == .held(pid: 1))
        #expect(UUCPLock.reclaimStale(device: "/dev/ttyS14", directory: directory) == .none)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["LCK..ttyS13"])
    }

    @Test("transfer writes through a fresh file and leaves no temporary behind")
    func transferLeavesNothing() throws {
        let lock = try UUCPLock.acquire(device: "/dev/ttyS15", directory: directory.path)
        let moved = try lock.transfer(to: 1)
        #expect(try String(contentsOfFile: lock.lockFile, encoding: .ascii) == String(format: "%10d\n", 1))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["LCK..ttyS15"])
        moved.release()
    }
}
