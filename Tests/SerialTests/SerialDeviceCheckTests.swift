import Foundation
import Glibc
import Serial
import SystemIO
import Testing
import TestSupport

@Suite("Serial ports named by others: only serial devices, only with the requester's rights")
struct SerialDeviceCheckTests {
    let scratch: ScratchFolder
    init() throws { scratch = try ScratchFolder("devicecheck") }
    private var directory: URL { scratch.directory }
    private func path(_ name: String) -> String { scratch.path(name) }
    private func fifo(_ name: String) throws -> String { try scratch.fifo(name) }

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
