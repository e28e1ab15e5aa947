import Hayes
import Testing
@testable import RAS

/// The listening line's pure machine (issue 13), before it is wired to the manager.
@Suite("Listening line: the machine")
struct ListenMachineTests {
    typealias State = ListenMachine.State
    typealias Event = ListenMachine.Event

    static func run(_ state: State, _ events: [Event]) -> (State, [[ListenMachine.Effect]]) {
        RASTests.run(state, events, ListenMachine.step)
    }

    static let ready: [Event] = [.start, .portOpened, .modemReady]
    static let alice = CallerID(number: "5551234", form: .formatted)

    @Test("it opens the port, initialises the modem and waits, re-checking the modem while idle")
    func arming() {
        let (state, effects) = Self.run(State(recheckEvery: .seconds(300)), Self.ready + [.timerFired, .modemReady])
        #expect(effects.map { $0 } == [[.openPort], [.initializeModem], [.startTimer(after: .seconds(300)), .waitForCalls],
                                       [.initializeModem], [.startTimer(after: .seconds(300)), .waitForCalls]])
        #expect(state.phase == .waiting)
    }

    @Test("rings are counted; after AnswerAfterRings it answers, and CONNECT hands the call over with its caller", arguments: [1, 3])
    func answersAfterRings(after: Int) {
        var events = Self.ready
        for _ in 0..<after { events.append(.ring) }
        if after > 1 { events.insert(.callerID(Self.alice), at: 4) }  // between ring 1 and ring 2
        let (state, effects) = Self.run(State(answerAfterRings: after), events + [.answered(.connect(rate: 33600))])
        #expect(effects[effects.count - 2].suffix(2) == [.report(.answer(rings: after)), .answer])
        #expect(effects.last == [.handOverCall(after == 1 ? nil : Self.alice)])
        #expect(state.phase == .inCall && state.callsTaken == 1)
        let (rearmed, more) = Self.run(state, [.callEnded])
        #expect(more[0] == [.initializeModem], "re-armed at once")
        #expect(rearmed.phase == .initializing && rearmed.rings == 0)
    }

    @Test("a rejected caller is never answered; the line waits for the rings to stop")
    func rejects() throws {
        let policy = try CallerPolicy(allow: nil, reject: "private")
        let hidden = CallerID(numberAbsence: .private, form: .formatted)
        let (state, effects) = Self.run(State(policy: policy), Self.ready + [.ring, .callerID(hidden), .ring, .ring, .ringsStopped])
        #expect(!effects.joined().contains(.answer))
        #expect(effects[4].contains(.report(.reject(.reject(because: .withheld)))), "rejected as soon as the caller ID says who")
        #expect(state.phase == .waiting && state.lastCaller == hidden && state.callsTaken == 0)
    }

    @Test("with a policy it waits for the caller ID (or the second ring) before answering")
    func policyWaitsForCallerID() throws {
        let policy = try CallerPolicy(allow: "555*", reject: nil)
        let (first, effects) = Self.run(State(policy: policy), Self.ready + [.ring])
        #expect(first.phase == .ringing && !effects.joined().contains(.answer))
        let (answered, more) = Self.run(first, [.callerID(Self.alice), .ring])
        #expect(more.last?.last == .answer && answered.phase == .answering)
        let (noID, last) = Self.run(first, [.ring])
        #expect(last[0].contains(.report(.reject(.reject(because: nil)))), "no caller ID by the second ring: not an allowed caller")
        #expect(noID.phase == .rejecting)
    }

    @Test("NO CARRIER instead of CONNECT is reported and the line re-arms")
    func answerFails() {
        let (state, effects) = Self.run(State(), Self.ready + [.ring, .answered(.noCarrier)])
        #expect(effects.last == [.report(.answerFailed(.noCarrier)), .initializeModem])
        #expect(state.phase == .initializing && state.callsTaken == 0)
    }

    @Test("a silent modem is reported and retried; an unplug releases the port and retries; stop releases it")
    func problemsAndStop() {
        let (retrying, effects) = Self.run(State(retryPause: .seconds(10)), [.start, .portOpened, .modemFailed(.deviceNotReady)])
        #expect(effects.last == [.report(.modemProblem(.deviceNotReady)), .startTimer(after: .seconds(10))])
        let (back, more) = Self.run(retrying, [.timerFired, .modemReady])
        #expect(more[0] == [.initializeModem] && back.phase == .waiting && back.lastError == nil)
        let (unplugged, lost) = Self.run(back, [.deviceFailed])
        #expect(lost[0] == [.cancelTimer, .report(.modemProblem(.hardwareFailure)), .releasePort, .startTimer(after: .seconds(10))])
        #expect(unplugged.phase == .retrying)
        let (stopped, stopping) = Self.run(back, [.stopRequested, .portClosed])
        #expect(stopping[0] == [.cancelTimer, .releasePort] && stopped.phase == .stopped)
    }

    @Test("stopped during a call: the call goes on, the port is released when it ends")
    func stopDuringCall() {
        let (inCall, _) = Self.run(State(), Self.ready + [.ring, .answered(.connect())])
        let (stopping, effects) = Self.run(inCall, [.stopRequested, .callEnded, .portClosed])
        #expect(effects == [[], [.releasePort], []])
        #expect(stopping.phase == .stopped)
    }
}
