import FakeModem
import Foundation
import Glibc
import RAS
import Serial
import SystemIO
import Testing
import TestSupport

/// A modem another program left online: chat(8) dials and exits at CONNECT without hanging
/// up. The fake modem's port starts with HUPCL on, as a real serial port; the test clears it
/// first (as `stty -hupcl` would), so that chat's close drops no DTR. The next dial recovers it.
@Suite("A modem left online")
struct LeftOnlineTests {
    static let chat = "/usr/sbin/chat"

    /// Runs chat on the modem's port: `ATDT5551234`, then exit 0 at CONNECT. HUPCL is
    /// cleared on the port before (`stty -hupcl`), so closing it leaves the modem online.
    static func dialWithChat(_ path: String) async throws -> ChildProcess.Termination? {
        // What `stty -hupcl` does: the settings stay with the port after this close.
        try SerialPort(path: path, options: SerialOptions(hangUpOnClose: false)).close()
        let terminal = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(terminal >= 0, "open \(path)")
        defer { close(terminal) }
        let chat = try ChildProcess(executable: Self.chat, arguments: ["-t", "5", "", "ATDT5551234", "CONNECT", ""], terminal: terminal)
        return await chat.waitForExit(deadline: .now + .seconds(10))
    }

    @Test("chat leaves the modem in the call; the next dial recovers it and connects (no 666)", arguments: [false, true])
    func recoveredAfterChat(ignoresDTR: Bool) async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.chat) else {
            print("skipped: \(Self.chat) is missing (Debian package ppp)")
            return
        }
        let lab = try await ModemLab(modem: ModemLab.modem(FaultSet(ignoresDTR: ignoresDTR)))
        #expect(try await Self.dialWithChat(lab.port()) == .exited(0))
        #expect(await TestSupport.eventually { lab.bank.modems[0].events.contains { $0.hasPrefix("slave-closed") } })
        #expect(lab.bank.modems[0].isOffHook, "chat left the modem online: \(lab.bank.modems[0].events)")

        let (handle, seen) = try await lab.dial("5551234")
        #expect(seen.last?.state == .connected, "\(seen.map { "\($0.state) \($0.error.map { "\($0.code)" } ?? "")" })")
        let events = lab.bank.modems[0].events
        #expect(events.contains(ignoresDTR ? "escape" : "dtr-drop"), "\(events)")
        #expect(events.filter { $0.hasPrefix("dial ") }.count == 2)
        try await lab.hangUpAndWait(handle)
        #expect(!lab.bank.modems[0].isOffHook)
        await lab.finish()
    }
}
