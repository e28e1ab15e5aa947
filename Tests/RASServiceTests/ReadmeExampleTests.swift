import FakeModem
import Foundation
import RAS
import RASService
import Testing
import TestSupport

/// README.md's "Use it from Swift" example, as written there — except that the manager
/// takes a private lock directory, so the test touches nothing outside its temp folder.
@Suite("README example")
struct ReadmeExampleTests {
    @Test("the DocC article 'Getting started' shows the same example as README.md")
    func articleMatchesReadme() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        func firstSwiftBlock(_ file: String) throws -> Substring? {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            return text.firstMatch(of: /```swift\n[\s\S]*?```/)?.output
        }
        let readme = try #require(try firstSwiftBlock("README.md"))
        #expect(try firstSwiftBlock("Sources/RAS/RAS.docc/GettingStarted.md") == readme)
        #expect(readme.contains("hangUpAndWait"), "the example this suite runs")
    }

    @Test("dial the fake modem in-process and hang up following the RAS rules")
    func readmeExample() async throws {
        let locks = try TestSupport.temporaryDirectory("readme")
        defer { TestSupport.remove(locks) }
        var seen: [RasDialNotification] = []

        let bank = try FakeModemBank()                     // a fake modem on a pty
        try await bank.start()
        let ras: any RasService = ConnectionManager(configuration: .init(lockDirectory: locks.path))

        let dial = try await ras.dial(.number("5551234", device: bank.modems[0].slavePath))
        for await notification in dial.notifications {     // the RAS notifier
            seen.append(notification)
            if notification.state == .connected || notification.state == .disconnected { break }
        }
        try await ras.hangUpAndWait(dial.handle)            // a failed dial must be hung up too; gone once status answers 6
        #expect(!bank.modems[0].isOffHook)
        await bank.stop()

        #expect(seen.map(\.state) == [.openPort, .portOpened, .connectDevice, .deviceConnected, .allDevicesConnected, .connected])
        #expect(try FileManager.default.contentsOfDirectory(atPath: locks.path).isEmpty)
    }
}
