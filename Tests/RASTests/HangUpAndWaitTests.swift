import Foundation
import RAS
import Testing
import TestSupport

/// `hangUpAndWait` and `waitUntilDeleted`: the RAS rule (gone only once status answers 6)
/// without a polling loop of the caller's own.
@Suite("Hang up and wait")
struct HangUpAndWaitTests {
    @Test("a failed dial keeps its handle: waiting for it times out with 753; hangUpAndWait removes it; a gone handle is fine")
    func waits() async throws {
        let locks = try TestSupport.temporaryDirectory("wait")
        defer { TestSupport.remove(locks) }
        let ras: any RasService = ConnectionManager(configuration: .init(lockDirectory: locks.path))
        let dial = try await ras.dial(.number("5551234", device: locks.path + "/no-such-modem"))
        #expect(await ModemLab.collect(dial.notifications).last?.error == .deviceDoesNotExist)
        await #expect(throws: RasError.hangupFailed) {
            try await ras.waitUntilDeleted(dial.handle, timeout: .milliseconds(100))
        }
        try await ras.hangUpAndWait(dial.handle, timeout: .seconds(10))
        await #expect(throws: RasError.invalidHandle) { _ = try await ras.connectStatus(dial.handle) }
        try await ras.hangUpAndWait(dial.handle)
        try await ras.waitUntilDeleted(dial.handle)
    }
}
