import FakeModem
import Foundation
import Hayes
import Logging
import RAS
import Testing
import TestSupport

/// A bench for connection-manager tests: fake modems on real ptys, a private UUCP lock
/// directory, and a manager with short timings. `finish()` hangs everything up and checks
/// that nothing was left behind: no connection, no descriptor on any modem's pty, no lock.
struct ModemLab {
    let bank: FakeModemBank
    let manager: ConnectionManager
    let lockDirectory: URL

    static let fastTiming = TestSupport.fastTiming

    /// A well-behaved modem whose escape guard time is 200 ms (S12=10), for fast tests.
    static func modem(_ faults: FaultSet = FaultSet(), profile: String = "") -> ModemSettings {
        var settings = ModemSettings()
        settings.registers[12] = 10
        settings.faults = faults
        settings.profile = profile
        return settings
    }

    init(
        routes: [NumberRoute] = [], otherwise: CallOutcome = .connect("CONNECT 33600/ARQ/V42BIS", delay: .milliseconds(50)),
        modem: ModemSettings = ModemLab.modem(), count: Int = 1, searchPath: PhonebookSearchPath? = nil,
        linesDirectory: String? = nil, timing: ModemTiming = ModemLab.fastTiming,
        deviceNames: [String] = [], ringGap: Duration = .seconds(1),
        observer: (@Sendable (RasConnectionObservation) -> Void)? = nil
    ) async throws {
        let scenario = Scenario(modemDefaults: modem, routes: routes, otherwise: otherwise)
        bank = try FakeModemBank(scenario: scenario, count: count)
        try await bank.start()
        lockDirectory = try TestSupport.temporaryDirectory("locks")
        // Modem i is called deviceNames[i], for entries that name it with Device=.
        let devices = zip(deviceNames, bank.modems).map { name, modem in
            RasDevice(deviceName: name, path: modem.slavePath, probe: .modem)
        }
        var configuration = ConnectionManager.Configuration(
            lockDirectory: lockDirectory.path, timing: timing,
            searchPath: searchPath ?? PhonebookSearchPath(environment: [:], fileExists: { _ in false }),
            resolveDevice: { name in devices.first { $0.answers(to: name) }?.path },
            listDevices: { devices })
        configuration.linesDirectory = linesDirectory
        configuration.ringGap = ringGap
        configuration.observer = observer
        manager = ConnectionManager(configuration: configuration, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// The slave path of modem `index`.
    func port(_ index: Int = 0) -> String { bank.modems[index].slavePath }

    /// Dials `number` on modem `index` and collects notifications until Connected or
    /// Disconnected.
    func dial(_ number: String, modem index: Int = 0) async throws -> (RasConnectionHandle, [RasDialNotification]) {
        let dial = try await manager.dial(.number(number, device: port(index)))
        return (dial.handle, await Self.collect(dial.notifications))
    }

    static func collect(_ stream: AsyncStream<RasDialNotification>) async -> [RasDialNotification] {
        var seen: [RasDialNotification] = []
        for await notification in stream {
            seen.append(notification)
            if notification.state == .connected || notification.state == .disconnected { break }
        }
        return seen
    }

    /// Waits until `handle` answers 6; returns how long that took.
    @discardableResult
    func waitUntilGone(_ handle: RasConnectionHandle, timeout: Duration = .seconds(15)) async -> Duration? {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < timeout {
            do {
                _ = try await manager.connectStatus(handle)
            } catch {
                return error == .invalidHandle ? start.duration(to: .now) : nil
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    /// Hangs `handle` up and waits for 6, as RAS requires.
    @discardableResult
    func hangUpAndWait(_ handle: RasConnectionHandle) async throws -> Duration? {
        try await manager.hangUp(handle)
        return await waitUntilGone(handle)
    }

    /// Hangs up whatever is left, stops the modems, and checks nothing leaked.
    func finish(sourceLocation: SourceLocation = #_sourceLocation) async {
        #expect(await manager.shutdown(timeout: .seconds(20)), "every connection torn down", sourceLocation: sourceLocation)
        for modem in bank.modems {
            #expect(TestSupport.descriptorCount(referringTo: modem.slavePath) == 1,
                    "only the fake modem's master holds \(modem.slavePath)", sourceLocation: sourceLocation)
        }
        let locks = (try? FileManager.default.contentsOfDirectory(atPath: lockDirectory.path)) ?? []
        #expect(locks.isEmpty, "no UUCP lock left: \(locks)", sourceLocation: sourceLocation)
        await bank.stop()
        TestSupport.remove(lockDirectory)
    }
}
