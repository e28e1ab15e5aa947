import Hayes
import Testing
@testable import RAS

/// The listening line's pure machine: what the connection manager does for each event.
@Suite("Listening line: the machine")
struct ListenMachineTests {
    typealias State = ListenMachine.State
    typealias Event = ListenMachine.Event

    static func run(_ state: State, _ events: [Event]) -> (State, [[ListenMachine.Effect]]) {
        RASTests.run(state, events, ListenMachine.step)
    }

    static let ready: [Event] = [.start, .portOpened, .modemReady]
    static let alice = CallerID(number: "5551234", form: .formatted)

    static func hands(_ effects: [[ListenMachine.Effect]]) -> Bool {
        effects.joined().contains { if case .handOverCall = $0 { true } else { false } }
    }

    @Test("it opens the port, initialises the modem, says it listens and waits, re-checking the modem while idle")
    func arming() {
        let (state, effects) = Self.run(State(recheckEvery: .seconds(300)), Self.ready + [.timerFired, .modemReady])
        #expect(effects == [[.openPort], [.initializeModem],
                            [.report(.listening), .startTimer(after: .seconds(300)), .waitForCalls],
                            [.initializeModem], [.startTimer(after: .seconds(300)), .waitForCalls]])
        #expect(state.phase == .waiting && state.holdsPort && state.hasListened)
    }

    @Test("rings are counted; on ring AnswerAfterRings it hands the call over with its caller; CONNECT makes it a call taken",
          arguments: [1, 3])
    func answersAfterRings(after: Int) {
        var events = Self.ready
        for _ in 0..<after { events.append(.ring) }
        if after > 1 { events.insert(.callerID(Self.alice), at: 4) }  // between ring 1 and ring 2
        let (answering, effects) = Self.run(State(answerAfterRings: after), events)
        #expect(effects.last?.suffix(2) == [.report(.answer(rings: after)), .handOverCall(after == 1 ? nil : Self.alice)])
        #expect(answering.phase == .answering && answering.rings == 0)
        let (state, connected) = Self.run(answering, [.answered(.connect(rate: 33600))])
        #expect(connected == [[]] && state.phase == .inCall && state.callsTaken == 1)
        let (rearmed, more) = Self.run(state, [.callEnded])
        #expect(more[0] == [.initializeModem], "re-armed at once")
        #expect(rearmed.phase == .initializing && rearmed.rings == 0)
    }

    @Test("with caller ID on, ring 1 waits for the caller ID and answers as soon as it comes (or on ring 2)")
    func waitsForCallerID() {
        let (first, effects) = Self.run(State(waitsForCallerID: true), Self.ready + [.ring])
        #expect(first.phase == .ringing && !Self.hands(effects))
        let (answered, more) = Self.run(first, [.callerID(Self.alice)])
        #expect(more[0] == [.report(.callerID(Self.alice)), .report(.answer(rings: 1)), .handOverCall(Self.alice)])
        #expect(answered.phase == .answering)
        let (none, last) = Self.run(first, [.ring])
        #expect(last[0].suffix(2) == [.report(.answer(rings: 2)), .handOverCall(nil)], "no caller ID by ring 2: a call without it")
        #expect(none.phase == .answering)
    }

    @Test("a rejected caller is never answered; the line waits for the rings to stop")
    func rejects() throws {
        let policy = try CallerPolicy(allow: nil, reject: "private")
        let hidden = CallerID(numberAbsence: .private, form: .formatted)
        let (state, effects) = Self.run(State(policy: policy), Self.ready + [.ring, .callerID(hidden), .ring, .ring, .ringsStopped])
        #expect(!Self.hands(effects))
        #expect(effects[4].contains(.report(.reject(.reject(because: .withheld)))), "rejected as soon as the caller ID says who")
        #expect(state.phase == .waiting && state.lastCaller == hidden && state.callsTaken == 0)
    }

    @Test("with a policy it waits for the caller ID (or the second ring) before answering")
    func policyWaitsForCallerID() throws {
        let policy = try CallerPolicy(allow: "555*", reject: nil)
        let (first, effects) = Self.run(State(policy: policy), Self.ready + [.ring])
        #expect(first.phase == .ringing && !Self.hands(effects))
        let (answered, more) = Self.run(first, [.callerID(Self.alice)])
        #expect(more.last?.last == .handOverCall(Self.alice) && answered.phase == .answering)
        let (noID, last) = Self.run(first, [.ring])
        #expect(last[0].contains(.report(.reject(.reject(because: nil)))), "no caller ID by the second ring: not an allowed caller")
        #expect(noID.phase == .rejecting)
    }

    @Test("NO CARRIER instead of CONNECT is reported; the line re-arms once the connection gives the port back")
    func answerFails() {
        let (state, effects) = Self.run(State(), Self.ready + [.ring, .answered(.noCarrier), .callEnded])
        #expect(effects.suffix(2) == [[.report(.answerFailed(.noCarrier))], [.initializeModem]])
        #expect(state.phase == .initializing && state.callsTaken == 0)
    }

    @Test("a silent modem is reported and retried; an unplug releases the port and reopens it; stop releases it")
    func problemsAndStop() {
        let (retrying, effects) = Self.run(State(retryPause: .seconds(10)), [.start, .portOpened, .modemFailed(.deviceNotReady)])
        #expect(effects.last == [.report(.modemProblem(.deviceNotReady)), .startTimer(after: .seconds(10))])
        let (back, more) = Self.run(retrying, [.timerFired, .modemReady])
        #expect(more[0] == [.initializeModem] && back.phase == .waiting && back.lastError == nil)
        #expect(more[1].first == .report(.listening), "a line that recovers says so")
        let (unplugged, lost) = Self.run(back, [.deviceFailed])
        #expect(lost[0] == [.cancelTimer, .report(.modemProblem(.hardwareFailure)), .releasePort, .startTimer(after: .seconds(10))])
        #expect(unplugged.phase == .retrying && !unplugged.holdsPort)
        // Still unplugged: the open fails and is retried; plugged back: it opens and re-inits.
        let missing = RasError.deviceDoesNotExist
        let (again, tries) = Self.run(unplugged, [.portClosed, .timerFired, .portFailed(missing), .timerFired, .portOpened, .modemReady])
        #expect(tries[1] == [.openPort])
        #expect(tries[2] == [.report(.modemProblem(missing)), .startTimer(after: .seconds(10))])
        #expect(tries[4] == [.initializeModem] && again.phase == .waiting && again.holdsPort)
        let (stopped, stopping) = Self.run(back, [.stopRequested, .portClosed])
        #expect(stopping[0] == [.cancelTimer, .releasePort] && stopped.phase == .stopped)
    }

    @Test("the first open failing ends the line; stopped while the port is away, it stops at once")
    func firstOpenAndStopWhileAway() {
        let (failed, _) = Self.run(State(), [.start, .portFailed(.deviceDoesNotExist)])
        #expect(failed.phase == .stopped)
        let (away, _) = Self.run(State(), Self.ready + [.deviceFailed, .portClosed])
        let (stopped, effects) = Self.run(away, [.stopRequested])
        #expect(effects == [[.cancelTimer]] && stopped.phase == .stopped)
    }

    @Test("stopped during a call: the call goes on, the port is released when it ends")
    func stopDuringCall() {
        let (inCall, _) = Self.run(State(), Self.ready + [.ring, .answered(.connect())])
        let (stopping, effects) = Self.run(inCall, [.stopRequested, .callEnded, .portClosed])
        #expect(effects == [[], [.releasePort], []])
        #expect(stopping.phase == .stopped)
    }
}
