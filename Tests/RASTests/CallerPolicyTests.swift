import Hayes
import Testing
@testable import RAS

@Suite("Caller policy")
struct CallerPolicyTests {
    static let alice = CallerID(number: "5551234", form: .formatted)
    static let berlin = CallerID(number: "+493012345", form: .clip)
    static let hidden = CallerID(numberAbsence: .private, form: .formatted)
    static let outOfArea = CallerID(numberAbsence: .unavailable, form: .formatted)

    @Test("no patterns: everyone is answered, with or without caller ID")
    func answersEveryone() {
        let policy = CallerPolicy()
        for caller in [Self.alice, Self.berlin, Self.hidden, Self.outOfArea, nil] { #expect(policy.decide(caller) == .answer) }
    }

    @Test("reject patterns win; allow patterns admit only their callers", arguments: [
        ("", "private", [true, true, false, true, true]),
        ("", "unknown", [true, true, true, false, false]),
        ("555*", "", [true, false, false, false, false]),
        ("+49*, 555?234", "", [true, true, false, false, false]),
        ("*", "+4930*", [true, false, false, false, false]),
        ("555*", "5551234", [false, false, false, false, false]),
    ])
    func decisions(allow: String, reject: String, answered: [Bool]) throws {
        let policy = try CallerPolicy(allow: allow, reject: reject)
        let callers: [CallerID?] = [Self.alice, Self.berlin, Self.hidden, Self.outOfArea, nil]
        #expect(callers.map { policy.decide($0) == .answer } == answered)
    }

    @Test("the rejecting pattern is named; bad patterns are refused")
    func reasons() throws {
        let policy = try CallerPolicy(allow: nil, reject: "private 0900*")
        #expect(policy.decide(Self.hidden) == .reject(because: .withheld))
        #expect(policy.decide(CallerID(number: "0900123", form: .clip)) == .reject(because: .number("0900*")))
        #expect(try CallerPolicy(allow: "555*", reject: nil).decide(Self.berlin) == .reject(because: nil))
        #expect(throws: CallerPolicyError(text: "ATD5551234")) { try CallerPolicy(allow: "ATD5551234", reject: nil) }
        #expect(throws: CallerPolicyError(text: "5;5")) { try CallerPolicy(allow: nil, reject: "5;5") }
    }
}
