import Foundation
import Glibc
import Synchronization
import Serial
import Testing
import TestSupport

/// Runs `body` on a thread of its own and reports whether it finished within `limit`. If it
/// did not (an `open` waiting for a FIFO's writer), the FIFOs are opened for writing so that
/// it finishes after all and the test process is not left with a stuck thread.
func finishesPromptly<T: Sendable>(
    unblocking fifos: [String], limit: Duration = .seconds(3), _ body: @escaping @Sendable () -> T
) -> (finished: Bool, value: T) {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<T?>(nil)
    let thread = Thread {
        let value = body()
        result.withLock { $0 = value }
        done.signal()
    }
    thread.start()
    let (seconds, attoseconds) = limit.components
    let finished = done.wait(timeout: .now() + Double(seconds) + Double(attoseconds) / 1e18) == .success
    if !finished {
        for fifo in fifos {
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        done.wait()
    }
    // The body has run: its value is set.
    return (finished, result.withLock { $0 }!)
}

@Suite("Files named by others: no blocking, no links followed, only regular files")
struct SafeFileTests {
    let directory: URL
    init() throws { directory = try TestSupport.temporaryDirectory("safefile") }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func fifo(_ name: String) throws -> String {
        let fifo = path(name)
        try #require(mkfifo(fifo, 0o666) == 0)
        return fifo
    }

    @Test func aFIFOIsRefusedWithoutWaitingForAWriter() throws {
        let fifo = try fifo("phonebook.pbk")
        let outcome = finishesPromptly(unblocking: [fifo]) { () -> SerialError? in
            do throws(SerialError) { _ = try SafeFile.readRegularFile(fifo); return nil } catch { return error }
        }
        #expect(outcome.finished, "reading a FIFO blocked")
        #expect(outcome.value == .notRegularFile(path: fifo, kind: .fifo))
    }

    @Test func devicesAndFoldersAreRefusedUnread() throws {
        #expect(throws: SerialError.notRegularFile(path: "/dev/zero", kind: .characterDevice)) {
            try SafeFile.readRegularFile("/dev/zero")
        }
        #expect(throws: SerialError.notRegularFile(path: directory.path, kind: .directory)) {
            try SafeFile.readRegularFile(directory.path)
        }
        let missing = path("absent")
        #expect(throws: SerialError.system(operation: "realpath", path: missing, errno: .noSuchFileOrDirectory)) {
            try SafeFile.readRegularFile(missing)
        }
    }

    @Test func aLinkToARegularFileIsReadAndSizeIsCapped() throws {
        let target = path("real.pbk")
        try Data("[Work]\n".utf8).write(to: URL(fileURLWithPath: target))
        let link = path("link.pbk")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        #expect(try SafeFile.readRegularFile(link) == Array("[Work]\n".utf8))
        #expect(throws: SerialError.tooLarge(path: link, limit: 3)) { try SafeFile.readRegularFile(link, maxBytes: 3) }
        // A link to a FIFO is no better than the FIFO.
        let fifoLink = path("fifo-link")
        try FileManager.default.createSymbolicLink(atPath: fifoLink, withDestinationPath: try fifo("f"))
        #expect(throws: SerialError.notRegularFile(path: fifoLink, kind: .fifo)) { try SafeFile.readRegularFile(fifoLink) }
    }

    @Test func writingRefusesLinksAndFIFOsAndCreatesRegularFiles() throws {
        let victim = path("victim")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: victim))
        let link = path("transcript.log")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
        #expect(throws: SerialError.notRegularFile(path: link, kind: .symbolicLink)) { try SafeFile.openForWriting(link) }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me", "the link's target was not truncated")

        let fifo = try fifo("log")
        let outcome = finishesPromptly(unblocking: [fifo]) { () -> SerialError? in
            do throws(SerialError) { close(try SafeFile.openForWriting(fifo)); return nil } catch { return error }
        }
        #expect(outcome.finished)
        #expect(outcome.value == .notRegularFile(path: fifo, kind: .fifo))

        let fresh = path("fresh.log")
        let fd = try SafeFile.openForWriting(fresh, mode: 0o600)
        #expect(write(fd, "abc", 3) == 3)
        close(fd)
        #expect(try FileStatus.of(fresh).kind == .regular)
        #expect(try FileStatus.of(fresh).permissions == 0o600)
        let again = try SafeFile.openForWriting(fresh, append: true)
        #expect(write(again, "d", 1) == 1)
        close(again)
        #expect(try String(contentsOfFile: fresh, encoding: .utf8) == "abcd")
    }

    @Test func accessFollowsOwnerThenGroupsThenOthers() throws {
        let file = path("book.pbk")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        let status = try FileStatus.of(file)
        let owner = PeerCredentials(pid: 1, uid: status.owner, gid: 4242)
        let member = PeerCredentials(pid: 1, uid: status.owner &+ 4242, gid: 4242, groups: [7, status.group])
        let stranger = PeerCredentials(pid: 1, uid: status.owner &+ 4242, gid: 4242, groups: [7])
        let root = PeerCredentials(pid: 1, uid: 0, gid: 0)

        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: file)
        for (peer, allowed) in [(owner, true), (member, true), (stranger, false), (root, true)] {
            #expect((try? SafeFile.readRegularFile(file, requester: peer)) != nil ? allowed : !allowed, "uid \(peer.uid)")
        }
        #expect(!member.may(.write, try FileStatus.of(file)))
        // A folder the peer cannot search hides the file.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
        #expect(throws: (any Error).self) { try SafeFile.readRegularFile(file, requester: stranger) }
        #expect(try SafeFile.readRegularFile(file, requester: owner) == Array("x".utf8))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        #expect(try SafeFile.readRegularFile(file, requester: stranger) == Array("x".utf8))
    }

    @Test func onlySerialPortsPassTheDeviceCheck() throws {
        let pty = try PseudoTerminal()
        let root = PeerCredentials(pid: 1, uid: 0, gid: 0)
        let identity = try SerialDeviceCheck.check(pty.slavePath, requester: root)
        #expect(identity.canonicalPath == pty.slavePath)
        #expect(identity.status.kind == .characterDevice && (136...143).contains(identity.status.deviceMajor))
        // Through a link too.
        let link = path("modem")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: pty.slavePath)
        #expect(try SerialDeviceCheck.check(link, requester: root).canonicalPath == pty.slavePath)

        for device in ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/ptmx"] where access(device, F_OK) == 0 {
            #expect(throws: (any Error).self, "\(device)") { try SerialDeviceCheck.check(device, requester: root) }
            do { _ = try SerialDeviceCheck.check(device, requester: root) } catch {
                guard case .notSerialDevice = error else { Issue.record("\(device): \(error)"); continue }
            }
        }
        let regular = path("plain")
        try Data().write(to: URL(fileURLWithPath: regular))
        #expect(throws: SerialError.notSerialDevice(path: regular, reason: "\(regular) is a regular file")) {
            try SerialDeviceCheck.check(regular, requester: nil)
        }
        let fifo = try fifo("fifo")
        #expect(throws: SerialError.notSerialDevice(path: fifo, reason: "\(fifo) is a FIFO")) {
            try SerialDeviceCheck.check(fifo, requester: nil)
        }
    }

    @Test func aPortIsCheckedForTheRequestersRights() throws {
        let pty = try PseudoTerminal()
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        let status = try FileStatus.of(pty.slavePath)
        let stranger = PeerCredentials(pid: 1, uid: status.owner &+ 4242, gid: 4242)
        let groupMember = PeerCredentials(pid: 1, uid: status.owner &+ 4242, gid: 4242, groups: [status.group])
        let owner = PeerCredentials(pid: 1, uid: status.owner, gid: 4242)
        try FileManager.default.setAttributes([.posixPermissions: 0o620], ofItemAtPath: pty.slavePath)
        do {
            _ = try SerialDeviceCheck.check(pty.slavePath, requester: stranger)
            Issue.record("a stranger passed")
        } catch {
            guard case .notPermitted(_, let reason) = error else { Issue.record("\(error)"); return }
            #expect(reason.contains("uid \(stranger.uid)") && reason.contains("crw--w----"), "\(reason)")
        }
        // 0620: the group may write but not read — not enough to dial.
        #expect(throws: (any Error).self) { try SerialDeviceCheck.check(pty.slavePath, requester: groupMember) }
        _ = try SerialDeviceCheck.check(pty.slavePath, requester: owner)
        try FileManager.default.setAttributes([.posixPermissions: 0o660], ofItemAtPath: pty.slavePath)
        _ = try SerialDeviceCheck.check(pty.slavePath, requester: groupMember)
        #expect(throws: (any Error).self) { try SerialDeviceCheck.check(pty.slavePath, requester: stranger) }

        // The open refuses a device that is not the one checked.
        let checked = try SerialDeviceCheck.check(pty.slavePath, requester: owner)
        let other = try PseudoTerminal()
        var swapped = checked
        swapped.canonicalPath = other.slavePath
        #expect(throws: (any Error).self) { try SerialPort(path: pty.slavePath, checked: swapped) }
        let port = try SerialPort(path: pty.slavePath, checked: checked)
        port.close()
    }
}
