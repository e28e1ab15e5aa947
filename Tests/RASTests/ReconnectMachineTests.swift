import Testing
import Foundation
import FakeModem
import Synchronization
import TestSupport
@testable import RAS

/// Reconnect on drop (`RedialOnLinkFailure=1`) in the pure dial machine.
@Suite("Reconnect on drop: the machine")
struct ReconnectMachineTests {
    typealias State = DialMachine.State
    typealias Effect = DialMachine.Effect

    static let policy = DialMachine.ReconnectPolicy(firstPause: .seconds(1), maximumPause: .seconds(4))
    static let connected: [DialMachine.Event] = [.start, .portOpened, .modemReady, .dialResult(.connect(rate: 33600))]

    @Test("the pause doubles from RedialSeconds up to RedialMaxSeconds")
    func backoff() {
        #expect((1...6).map { Self.policy.pause(before: $0) } == [.seconds(1), .seconds(2), .seconds(4), .seconds(4), .seconds(4), .seconds(4)])
        let flat = DialMachine.ReconnectPolicy(firstPause: .seconds(30), maximumPause: .seconds(10))
        #expect(flat.pause(before: 3) == .seconds(30), "the longest pause is never below the first")
    }

    @Test("a carrier loss after Connected: Disconnected 629, the reconnect announced, the same handle dials again")
    func dropThenReconnect() {
        let (state, effects) = run(State(reconnect: Self.policy), Self.connected + [.carrierLost])
        #expect(effects.last == [.notify(.disconnected, .remoteDisconnection), .closeDataPath,
                                 .announceReconnect(attempt: 1, after: .seconds(1)), .scheduleRedial(after: .seconds(1))])
        #expect(state.phase == .waitingToRedial && state.isReconnecting)
        #expect(state.error == .remoteDisconnection, "the status keeps the drop's reason while reconnecting")
        #expect(!effects.last!.contains(.releasePort), "the port stays open")

        let (again, more) = run(state, [.redialTimerFired, .modemReady, .dialResult(.connect(rate: 33600))])
        #expect(more[0] == [.notify(.connectDevice, nil), .initializeModem])
        #expect(more[2].contains(.notify(.connected, nil)))
        #expect(again.phase == .connected && !again.isReconnecting && again.error == nil)
        #expect(again.reconnects == 1, "the backoff goes on until the link proves stable")
    }

    @Test("failed reconnect attempts wait longer each time; pppd's exit counts as a drop; linkStable starts afresh")
    func failuresGrowThePause() {
        var (state, _) = run(State(runsPPP: true, reconnect: Self.policy),
                             Self.connected + [.pppProjected(RasProjection(interfaceName: "ppp0")), .pppExited(.remoteDisconnection)])
        #expect(state.phase == .waitingToRedial && state.reconnects == 1)
        var pauses: [Duration] = []
        for outcome in [DialMachine.ModemOutcome.busy, .noCarrier, .timeout] {
            let (next, effects) = run(state, [.redialTimerFired, .modemReady, .dialResult(outcome)])
            state = next
            if case .scheduleRedial(let pause)? = effects.last?.last { pauses.append(pause) }
            #expect(effects.last?.first == (outcome == .timeout ? .abortDial : .notify(.connectDevice, outcome.rasError)))
        }
        #expect(pauses == [.seconds(2), .seconds(4), .seconds(4)])
        (state, _) = run(state, [.redialTimerFired, .modemFailed(.deviceNotReady)])
        #expect(state.phase == .waitingToRedial, "a silent modem is retried too: the next wake recovers it")
        #expect(state.error == .remoteDisconnection)
        (state, _) = run(state, [.linkStable])
        #expect(state.reconnects == 0)
    }

    @Test("a hang-up during the backoff stops reconnecting at once; a device failure ends it with 630")
    func hangUpAndDeviceFailure() {
        let (waiting, _) = run(State(reconnect: Self.policy), Self.connected + [.carrierLost])
        let (hungUp, effects) = run(waiting, [.hangUpRequested])
        #expect(effects[0] == [.cancelRedial, .hangUpModem])
        #expect(hungUp.phase == .hangingUp)
        let (failed, _) = run(waiting, [.deviceFailed])
        #expect(failed.phase == .releasingPort && failed.error == .hardwareFailure)
    }

    @Test("without RedialOnLinkFailure a drop ends the connection as before")
    func offByDefault() {
        let (state, effects) = run(State(), Self.connected + [.carrierLost])
        #expect(state.phase == .releasingPort && state.error == .remoteDisconnection)
        #expect(effects.last?.contains(.releasePort) == true)
        #expect(!(effects.last ?? []).contains { if case .announceReconnect = $0 { true } else { false } })
    }
}

/// Reconnect on drop through the connection manager, against a fake modem whose carrier
/// drops 300 ms into every call.
@Suite("Reconnect on drop: the manager and the fake modem")
struct ReconnectTests {
    final class Seen: Sendable {
        private let kinds = Mutex<[String]>([])
        func append(_ kind: String) { kinds.withLock { $0.append(kind) } }
        var all: [String] { kinds.withLock { $0 } }
    }

    @Test("a dropped link is dialed again on the same handle with the backoff (from the transcript); a hang-up during the backoff stops it")
    func reconnects() async throws {
        let drops = CallOutcome(delay: .milliseconds(20), kind: .connect(ConnectSpec(
            result: ResultCode(text: "CONNECT 33600", code: 1), carrierDropAfter: .milliseconds(300))))
        let lab = try await ModemLab(otherwise: drops)
        let folder = try TestSupport.temporaryDirectory("reconnect")
        defer { TestSupport.remove(folder) }
        let book = try PhonebookKeyWireTests.book(
            ["PhoneNumber=5551234", "RedialOnLinkFailure=1", "RedialSeconds=1", "RedialMaxSeconds=2"], port: lab.port(), in: folder)
        let events = try await lab.manager.connectionEvents()
        let seen = Seen()
        let watcher = Task {
            for await event in events {
                seen.append(event.kind.rawValue + (event.connection.error.map { " \($0.code)" } ?? ""))
            }
        }
        let dial = try await lab.manager.dial(.entry("E", phonebookPath: book))
        #expect(await TestSupport.eventually(timeout: .seconds(20)) { seen.all.filter { $0 == "reconnecting 629" }.count >= 3 },
                "\(seen.all)")
        // The third pause (2 s) is running: hang up in it.
        try await lab.hangUpAndWait(dial.handle)
        let dialsAtHangUp = lab.bank.modems[0].events.filter { $0.hasPrefix("dial ") }.count
        try await Task.sleep(for: .milliseconds(2500))
        #expect(lab.bank.modems[0].events.filter { $0.hasPrefix("dial ") }.count == dialsAtHangUp, "no dial after the hang-up")
        watcher.cancel()

        let kinds = seen.all
        #expect(Array(kinds.prefix(7)) == ["connected", "disconnected 629", "reconnecting 629", "connected",
                                           "disconnected 629", "reconnecting 629", "connected"], "\(kinds)")
        // The backoff, from the transcript: each drop to the next dial.
        let transcript = lab.bank.modems[0].transcript
        let lost = transcript.filter { $0.event?.hasPrefix("carrier-lost") == true || $0.event?.hasPrefix("on-hook") == true }.map(\.date)
        let dials = transcript.filter { $0.event?.hasPrefix("dial ") == true }.map(\.date)
        var gaps: [Double] = []
        for (index, dialed) in dials.enumerated().dropFirst() {
            if let drop = lost.last(where: { $0 < dialed }), index <= 3 { gaps.append(dialed.timeIntervalSince(drop)) }
        }
        print("reconnect backoff observed (drop → next dial, s): \(gaps.map { String(format: "%.3f", $0) })")
        #expect(gaps.count >= 2)
        for (gap, pause) in zip(gaps, [1.0, 2.0, 2.0]) { #expect(gap >= pause, "backoff \(gaps)") }
        await lab.finish()
    }
}
