import Testing
@testable import RAS

private typealias State = DialMachine.State
private typealias Event = DialMachine.Event
private typealias Effect = DialMachine.Effect

/// Runs `events` through a pure machine's `step` from `state`: the final state and every
/// step's effects.
func run<S, E, F>(_ state: S, _ events: [E], _ step: (S, E) -> (S, [F])) -> (S, [[F]]) {
    var current = state
    var all: [[F]] = []
    for event in events {
        let (next, effects) = step(current, event)
        current = next
        all.append(effects)
    }
    return (current, all)
}

/// ``run(_:_:_:)`` for the dial machine.
func run(_ state: DialMachine.State, _ events: [DialMachine.Event]) -> (DialMachine.State, [[DialMachine.Effect]]) {
    run(state, events, DialMachine.step)
}

private func drive(_ events: [Event], redialAttempts: Int = 1) -> State {
    run(State(redialAttempts: redialAttempts, redialPause: .seconds(5)), events).0
}

/// A connection driven into each phase (one phase twice: a hang-up that came while opening).
enum Fixture: String, CaseIterable, Sendable {
    case idle, openingPort, initializingModem, dialing, waitingToRedial, connected, releasingPort, failed,
         hangingUp, hangingUpWhileOpening, deleted

    fileprivate var events: [Event] {
        let dialing: [Event] = [.start, .portOpened, .modemReady]
        switch self {
        case .idle: return []
        case .openingPort: return [.start]
        case .initializingModem: return [.start, .portOpened]
        case .dialing: return dialing
        case .waitingToRedial: return dialing + [.dialResult(.busy)]
        case .connected: return dialing + [.dialResult(.connect(rate: 33600, protocol: "V42BIS"))]
        case .releasingPort: return dialing + [.dialResult(.noCarrier)]
        case .failed: return dialing + [.dialResult(.noCarrier), .portClosed]
        case .hangingUp: return dialing + [.dialResult(.connect()), .hangUpRequested]
        case .hangingUpWhileOpening: return [.start, .hangUpRequested]
        case .deleted: return dialing + [.dialResult(.connect()), .hangUpRequested, .teardownComplete]
        }
    }

    fileprivate var state: State { drive(events) }

    var phase: DialMachine.Phase {
        switch self {
        case .hangingUpWhileOpening: .hangingUp
        default: DialMachine.Phase(rawValue: rawValue) ?? .idle
        }
    }
}

/// Every event kind, with representative payloads.
enum EventCase: String, CaseIterable, Sendable {
    case start, portOpened, portFailed, modemReady, modemFailed, connect, busy, noCarrier, redialTimerFired,
         hangUpRequested, teardownComplete, carrierLost, idleTimeout, deviceFailed, portClosed

    fileprivate var event: Event {
        switch self {
        case .start: .start
        case .portOpened: .portOpened
        case .portFailed: .portFailed(RasError.portNotAvailable.with(detail: "held by PID 1234"))
        case .modemReady: .modemReady
        case .modemFailed: .modemFailed(.deviceNotReady)
        case .connect: .dialResult(.connect(rate: 28800, protocol: "LAPM"))
        case .busy: .dialResult(.busy)
        case .noCarrier: .dialResult(.noCarrier)
        case .redialTimerFired: .redialTimerFired
        case .hangUpRequested: .hangUpRequested
        case .teardownComplete: .teardownComplete
        case .carrierLost: .carrierLost
        case .idleTimeout: .idleTimeout
        case .deviceFailed: .deviceFailed
        case .portClosed: .portClosed
        }
    }
}

private func failure(_ state: RasConnState, _ error: RasError, release: Bool = true) -> [Effect] {
    [.notify(state, error), .notify(.disconnected, error)] + (release ? [.releasePort] : [])
}

/// The expected (phase, effects) of every meaningful pair; every other pair is ignored.
private let transitions: [Fixture: [EventCase: (DialMachine.Phase, [Effect])]] = [
    .idle: [
        .start: (.openingPort, [.notify(.openPort, nil), .openPort]),
        .hangUpRequested: (.deleted, [.deleteConnection]),
    ],
    .openingPort: [
        .portOpened: (.initializingModem, [.notify(.portOpened, nil), .notify(.connectDevice, nil), .initializeModem]),
        .portFailed: (.failed, failure(.openPort, .portNotAvailable, release: false)),
        .hangUpRequested: (.hangingUp, []),
        .deviceFailed: (.releasingPort, failure(.openPort, .hardwareFailure)),
    ],
    .initializingModem: [
        .modemReady: (.dialing, [.dial(attempt: 1)]),
        .modemFailed: (.releasingPort, failure(.connectDevice, .deviceNotReady)),
        .hangUpRequested: (.hangingUp, [.hangUpModem]),
        .deviceFailed: (.releasingPort, failure(.connectDevice, .hardwareFailure)),
    ],
    .dialing: [
        .modemFailed: (.releasingPort, failure(.connectDevice, .deviceNotReady)),
        .connect: (.connected, [.notify(.deviceConnected, nil), .notify(.allDevicesConnected, nil), .openDataPath, .notify(.connected, nil)]),
        .busy: (.waitingToRedial, [.scheduleRedial(after: .seconds(5))]),
        .noCarrier: (.releasingPort, failure(.connectDevice, .noCarrier)),
        .hangUpRequested: (.hangingUp, [.abortDial, .hangUpModem]),
        .deviceFailed: (.releasingPort, failure(.connectDevice, .hardwareFailure)),
    ],
    .waitingToRedial: [
        .redialTimerFired: (.initializingModem, [.notify(.connectDevice, nil), .initializeModem]),
        .hangUpRequested: (.hangingUp, [.cancelRedial, .hangUpModem]),
        .deviceFailed: (.releasingPort, [.cancelRedial] + failure(.connectDevice, .hardwareFailure)),
    ],
    .connected: [
        .hangUpRequested: (.hangingUp, [.closeDataPath, .hangUpModem]),
        .carrierLost: (.releasingPort, [.notify(.disconnected, .remoteDisconnection), .closeDataPath, .releasePort]),
        .idleTimeout: (.releasingPort, [.notify(.disconnected, .idleTimeout), .closeDataPath, .releasePort]),
        .deviceFailed: (.releasingPort, [.notify(.disconnected, .hardwareFailure), .closeDataPath, .releasePort]),
    ],
    .releasingPort: [
        .hangUpRequested: (.hangingUp, []),
        .teardownComplete: (.failed, []),
        .portClosed: (.failed, []),
    ],
    .failed: [
        .hangUpRequested: (.deleted, [.deleteConnection]),
    ],
    .hangingUp: [
        .teardownComplete: (.deleted, [.deleteConnection]),
        .portClosed: (.deleted, [.deleteConnection]),
    ],
    .hangingUpWhileOpening: [
        .portOpened: (.hangingUp, [.releasePort]),
        .portFailed: (.deleted, [.deleteConnection]),
    ],
    .deleted: [:],
]

@Suite("DialMachine")
struct DialMachineTests {
    @Test("fixtures reach their phase", arguments: Fixture.allCases)
    func fixturePhases(fixture: Fixture) {
        #expect(fixture.state.phase == fixture.phase)
    }

    @Test("every phase × event", arguments: Fixture.allCases, EventCase.allCases)
    func transitionTable(fixture: Fixture, eventCase: EventCase) {
        let before = fixture.state
        let (after, effects) = DialMachine.step(before, eventCase.event)
        if let (phase, expected) = transitions[fixture]?[eventCase] {
            #expect(after.phase == phase)
            #expect(effects == expected)
        } else {
            #expect(after == before, "ignored events change nothing")
            #expect(effects.isEmpty)
        }
    }

    @Test func happyPath() {
        let (state, steps) = run(State(), [
            .start, .portOpened, .modemReady,
            .dialResult(.connect(rate: 33600, protocol: "V42BIS",
                                 details: RasConnectDetails(carrierRate: 31200, errorControl: "LAPM"))),
        ])
        let notified = steps.joined().compactMap { effect -> RasConnState? in
            if case .notify(let state, let error) = effect, error == nil { return state }
            return nil
        }
        #expect(notified == [.openPort, .portOpened, .connectDevice, .deviceConnected, .allDevicesConnected, .connected])
        #expect(Array(steps.joined()).filter { if case .notify = $0 { false } else { true } }
            == [.openPort, .initializeModem, .dial(attempt: 1), .openDataPath])
        #expect(state.phase == .connected)
        #expect(state.connectionState == .connected)
        #expect(state.error == nil)
        #expect(state.attempt == 1)
        #expect(state.connectRate == 33600)
        #expect(state.connectProtocol == "V42BIS")
        #expect(state.connectDetails?.carrierRate == 31200)
        #expect(state.connectDetails?.errorControl == "LAPM")
    }

    @Test("dial outcome → RAS error", arguments: [
        (DialMachine.ModemOutcome.busy, UInt32(676)), (.noAnswer, 678), (.noCarrier, 679), (.noDialtone, 680),
        (.error, 651), (.voice, 677), (.delayed, 651), (.blacklisted, 651), (.unrecognised("RINGING 3"), 652),
        (.timeout, 678),
    ])
    func failureMapping(outcome: DialMachine.ModemOutcome, code: UInt32) throws {
        #expect(outcome.rasError?.code == code)
        let dialing = drive([.start, .portOpened, .modemReady], redialAttempts: 0)
        let (failed, effects) = DialMachine.step(dialing, .dialResult(outcome))
        let error = RasError(code: code)
        let abort: [Effect] = outcome == .timeout ? [.abortDial] : []
        #expect(effects == abort + failure(.connectDevice, error))
        #expect(failed.phase == .releasingPort)
        #expect(failed.connectionState == .disconnected)
        #expect(failed.error?.code == code)
        // The handle stays valid (no deleteConnection) until the hang-up.
        let (released, none) = DialMachine.step(failed, .portClosed)
        #expect(none.isEmpty)
        #expect(released.phase == .failed)
        #expect(released.error?.code == code)
        let (deleted, last) = DialMachine.step(released, .hangUpRequested)
        #expect(last == [.deleteConnection])
        #expect(deleted.phase == .deleted)
        #expect(deleted.error?.code == code, "the reason survives the hang-up")
    }

    @Test func failureDetails() throws {
        #expect(try #require(DialMachine.ModemOutcome.unrecognised("RINGING 3").rasError?.detail).contains("RINGING 3"))
        #expect(try #require(DialMachine.ModemOutcome.delayed.rasError?.detail).contains("DELAYED"))
        #expect(try #require(DialMachine.ModemOutcome.blacklisted.rasError?.detail).contains("BLACKLISTED"))
        #expect(try #require(DialMachine.ModemOutcome.timeout.rasError?.detail).contains("deadline"))
        #expect(DialMachine.ModemOutcome.connect(rate: 9600).rasError == nil)
        #expect(DialMachine.ModemOutcome.busy.rasError?.detail == nil)
    }

    @Test("init and port failures", arguments: [RasError.deviceDoesNotExist, .portNotAvailable, .portAlreadyOpen])
    func portFailure(error: RasError) {
        let (state, effects) = DialMachine.step(drive([.start]), .portFailed(error))
        #expect(effects == [.notify(.openPort, error), .notify(.disconnected, error)])
        #expect(state.phase == .failed)
        #expect(state.error == error)
        #expect(DialMachine.step(state, .hangUpRequested).1 == [.deleteConnection])
    }

    @Test("modem init failures", arguments: [RasError.deviceNotReady, .fromDevice, .unrecognizedResponse])
    func modemFailure(error: RasError) {
        let (state, effects) = DialMachine.step(drive([.start, .portOpened]), .modemFailed(error))
        #expect(effects == failure(.connectDevice, error))
        #expect(state.error == error)
        #expect(state.connectionState == .disconnected)
    }

    @Test func redialBusyBusyConnect() {
        let (state, steps) = run(State(redialAttempts: 2, redialPause: .seconds(30)), [
            .start, .portOpened, .modemReady,
            .dialResult(.busy), .redialTimerFired, .modemReady,
            .dialResult(.busy), .redialTimerFired, .modemReady,
            .dialResult(.connect(rate: 14400)),
        ])
        #expect(steps == [
            [.notify(.openPort, nil), .openPort],
            [.notify(.portOpened, nil), .notify(.connectDevice, nil), .initializeModem],
            [.dial(attempt: 1)],
            [.scheduleRedial(after: .seconds(30))],
            [.notify(.connectDevice, nil), .initializeModem],
            [.dial(attempt: 2)],
            [.scheduleRedial(after: .seconds(30))],
            [.notify(.connectDevice, nil), .initializeModem],
            [.dial(attempt: 3)],
            [.notify(.deviceConnected, nil), .notify(.allDevicesConnected, nil), .openDataPath, .notify(.connected, nil)],
        ])
        #expect(state.phase == .connected)
        #expect(state.attempt == 3)
        #expect(state.error == nil)
        #expect(state.lastAttemptError == nil)
        #expect(state.connectRate == 14400)
    }

    @Test func waitingToRedialReportsNoError() {
        let state = drive([.start, .portOpened, .modemReady, .dialResult(.noAnswer)], redialAttempts: 3)
        #expect(state.phase == .waitingToRedial)
        #expect(state.connectionState == .connectDevice)
        #expect(state.error == nil)
        #expect(state.lastAttemptError == .noAnswer)
    }

    @Test func redialExhausted() throws {
        let (state, steps) = run(State(redialAttempts: 2, redialPause: .seconds(1)), [
            .start, .portOpened, .modemReady, .dialResult(.busy),
            .redialTimerFired, .modemReady, .dialResult(.noAnswer),
            .redialTimerFired, .modemReady, .dialResult(.busy),
        ])
        #expect(steps.last == failure(.connectDevice, .lineBusy))
        #expect(state.phase == .releasingPort)
        #expect(state.attempt == 3)
        #expect(state.error == .lineBusy)
        #expect(try #require(state.error?.detail).contains("attempt 3 of 3"))
    }

    @Test func timeoutAbortsThenRedials() {
        let (state, steps) = run(State(redialAttempts: 1, redialPause: .seconds(2)), [
            .start, .portOpened, .modemReady, .dialResult(.timeout), .redialTimerFired, .modemReady,
            .dialResult(.timeout),
        ])
        #expect(steps[3] == [.abortDial, .scheduleRedial(after: .seconds(2))])
        #expect(steps[6] == [.abortDial] + failure(.connectDevice, .noAnswer))
        #expect(state.error == .noAnswer)
    }

    @Test("no redial for hard failures", arguments: [
        DialMachine.ModemOutcome.noCarrier, .noDialtone, .error, .voice, .delayed, .blacklisted, .unrecognised("?"),
    ])
    func noRedialForHardFailures(outcome: DialMachine.ModemOutcome) throws {
        let (state, effects) = DialMachine.step(
            drive([.start, .portOpened, .modemReady], redialAttempts: 5), .dialResult(outcome))
        #expect(state.phase == .releasingPort)
        #expect(!effects.contains { if case .scheduleRedial = $0 { true } else { false } })
        #expect(try #require(state.error?.detail).contains("attempt 1 of 6"))
    }

    @Test func lateEventsAreIgnored() {
        // A late NO CARRIER from an aborted dial must not count for the next attempt.
        let waiting = drive([.start, .portOpened, .modemReady, .dialResult(.timeout)], redialAttempts: 2)
        #expect(DialMachine.step(waiting, .dialResult(.noCarrier)) == (waiting, []))
        let initializing = DialMachine.step(waiting, .redialTimerFired).0
        #expect(DialMachine.step(initializing, .dialResult(.noCarrier)) == (initializing, []))
    }

    @Test("hang-up in every phase ends deleted", arguments: Fixture.allCases)
    func hangUpEverywhere(fixture: Fixture) {
        var state = fixture.state
        var effects = DialMachine.step(state, .hangUpRequested)
        state = effects.0
        var deletions = effects.1.filter { $0 == .deleteConnection }.count
        // The manager answers whatever the machine asked for.
        for answer in [Event.portOpened, .portClosed, .teardownComplete] where state.phase != .deleted {
            effects = DialMachine.step(state, answer)
            state = effects.0
            deletions += effects.1.filter { $0 == .deleteConnection }.count
        }
        #expect(state.phase == .deleted)
        #expect(state.connectionState == .disconnected)
        #expect(deletions == (fixture == .deleted ? 0 : 1), "deleteConnection exactly once")
    }

    @Test("hang-up error: 631, or the failure's own code", arguments: Fixture.allCases)
    func hangUpError(fixture: Fixture) {
        let (state, _) = DialMachine.step(fixture.state, .hangUpRequested)
        switch fixture {
        case .idle: #expect(state.error == nil)
        case .releasingPort, .failed: #expect(state.error == .noCarrier)
        default: #expect(state.error == .userDisconnection)
        }
    }

    @Test("hang-up is never notified", arguments: Fixture.allCases)
    func hangUpNotNotified(fixture: Fixture) {
        let effects = DialMachine.step(fixture.state, .hangUpRequested).1
        #expect(!effects.contains { if case .notify = $0 { true } else { false } })
    }

    @Test("a second hang-up is a no-op", arguments: Fixture.allCases)
    func doubleHangUp(fixture: Fixture) {
        let once = DialMachine.step(fixture.state, .hangUpRequested).0
        let (twice, effects) = DialMachine.step(once, .hangUpRequested)
        #expect(effects.isEmpty)
        #expect(twice == once)
    }

    @Test func carrierLostKeepsHandle() {
        let connected = Fixture.connected.state
        let (lost, effects) = DialMachine.step(connected, .carrierLost)
        #expect(effects == [.notify(.disconnected, .remoteDisconnection), .closeDataPath, .releasePort])
        #expect(lost.connectionState == .disconnected)
        #expect(lost.error == .remoteDisconnection)
        #expect(lost.connectRate == 33600, "the link facts stay for the status")
        let released = DialMachine.step(lost, .portClosed).0
        #expect(released.phase == .failed)
        #expect(DialMachine.step(released, .carrierLost) == (released, []))
    }

    @Test func negativeRedialAttemptsCountAsZero() {
        let state = State(redialAttempts: -3)
        #expect(state.redialAttempts == 0)
        #expect(state.maximumAttempts == 1)
    }

    @Test func stateFromSettings() {
        var settings = RasDialSettings(phoneNumber: "1")
        settings.redialAttempts = 4
        settings.redialPause = .seconds(7)
        let state = State(settings: settings)
        #expect(state.redialAttempts == 4)
        #expect(state.redialPause == .seconds(7))
    }

    /// Random event sequences: the machine never traps and keeps its invariants.
    @Test func randomSequencesKeepInvariants() {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: seed >> 33)
        }
        let events = EventCase.allCases.map(\.event) + [
            .dialResult(.timeout), .dialResult(.noAnswer), .dialResult(.voice), .dialResult(.unrecognised("X")),
        ]
        for _ in 0..<2000 {
            var state = State(redialAttempts: next() % 3, redialPause: .seconds(1))
            var deleted = false
            for _ in 0..<25 {
                let (after, effects) = DialMachine.step(state, events[next() % events.count])
                if deleted { #expect(effects.isEmpty && after == state) }
                if effects.contains(.deleteConnection) {
                    #expect(effects == [.deleteConnection])
                    #expect(!deleted)
                    deleted = true
                }
                // An error notification is always followed by Disconnected with the same error.
                for (index, effect) in effects.enumerated() {
                    if case .notify(let notified, let error?) = effect, notified != .disconnected {
                        #expect(effects[index + 1] == .notify(.disconnected, error))
                    }
                }
                let ended: Set<DialMachine.Phase> = [.releasingPort, .failed, .hangingUp, .deleted]
                #expect((after.connectionState == .disconnected) == ended.contains(after.phase))
                if after.phase == .releasingPort || after.phase == .failed { #expect(after.error != nil) }
                if after.phase == .connected { #expect(after.connectionState == .connected && after.error == nil) }
                state = after
            }
        }
    }
}
