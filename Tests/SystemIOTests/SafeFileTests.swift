import Foundation
import Glibc
import SystemIO
import Testing
import TestSupport

@Suite("Files named by others: no blocking, no links followed, only regular files")
struct SafeFileTests {
    let scratch: ScratchFolder
    init() throws { scratch = try ScratchFolder("safefile") }
    private var directory: URL { scratch.directory }
    private func path(_ name: String) -> String { scratch.path(name) }
    private func fifo(_ name: String) throws -> String { try scratch.fifo(name) }

    @Test func aFIFOIsRefusedWithoutWaitingForAWriter() throws {
        let fifo = try fifo("phonebook.pbk")
        let outcome = finishesPromptly(unblocking: [fifo]) { () -> SystemError? in
            do throws(SystemError) { _ = try SafeFile.readRegularFile(fifo); return nil } catch { return error }
        }
        #expect(outcome.finished, "reading a FIFO blocked")
        #expect(outcome.value == .notRegularFile(path: fifo, kind: .fifo))
    }

    @Test func devicesAndFoldersAreRefusedUnread() throws {
        #expect(throws: SystemError.notRegularFile(path: "/dev/zero", kind: .characterDevice)) {
            try SafeFile.readRegularFile("/dev/zero")
        }
        #expect(throws: SystemError.notRegularFile(path: directory.path, kind: .directory)) {
            try SafeFile.readRegularFile(directory.path)
        }
        let missing = path("absent")
        #expect(throws: SystemError.system(call: "realpath", path: missing, errno: .noSuchFileOrDirectory)) {
            try SafeFile.readRegularFile(missing)
        }
    }

    @Test func aLinkToARegularFileIsReadAndSizeIsCapped() throws {
        let target = path("real.pbk")
        try Data("[Work]\n".utf8).write(to: URL(fileURLWithPath: target))
        let link = path("link.pbk")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        #expect(try SafeFile.readRegularFile(link) == Array("[Work]\n".utf8))
        #expect(throws: SystemError.tooLarge(path: link, limit: 3)) { try SafeFile.readRegularFile(link, maxBytes: 3) }
        // A link to a FIFO is no better than the FIFO.
        let fifoLink = path("fifo-link")
        try FileManager.default.createSymbolicLink(atPath: fifoLink, withDestinationPath: try fifo("f"))
        #expect(throws: SystemError.notRegularFile(path: fifoLink, kind: .fifo)) { try SafeFile.readRegularFile(fifoLink) }
    }

    @Test func writingRefusesLinksAndFIFOsAndCreatesRegularFiles() throws {
        let victim = path("victim")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: victim))
        let link = path("transcript.log")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
        #expect(throws: SystemError.notRegularFile(path: link, kind: .symbolicLink)) { try SafeFile.openForWriting(link) }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me", "the link's target was not truncated")

        let fifo = try fifo("log")
        let outcome = finishesPromptly(unblocking: [fifo]) { () -> SystemError? in
            do throws(SystemError) { close(try SafeFile.openForWriting(fifo)); return nil } catch { return error }
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
}
