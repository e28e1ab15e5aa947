import Foundation
import FuzzTargets
import RAS
import Testing

/// One test per bug the fuzzers found, replaying its saved input
/// (`Fixtures/fuzz/<target>/regression-…`) and checking the fix directly.
@Suite("Fuzz regressions")
struct RegressionTests {
    /// The phonebook fuzzer (long run, seed 1): a line ending CR CR … CR LF lost one CR per
    /// write and read, so a phonebook read and written back read back different. Every CR
    /// before the LF is now part of the line ending (Sources/RAS/Phonebook.swift).
    @Test("phonebook: CRs before the LF are the line ending (CR CR LF), so a rewrite reads back equal")
    func phonebookTrailingCarriageReturns() throws {
        let input = try FuzzFixtures.input(.phonebook, "regression-trailing-cr")
        #expect(FuzzTarget.phonebook.run(input) == [])

        let twiceConverted = try Phonebook(text: "[Work]\r\r\nPhoneNumber=5551234\r\r\n; note\r\r\n")
        #expect(twiceConverted.lineEnding == .crlf)
        #expect(twiceConverted.text == "[Work]\r\nPhoneNumber=5551234\r\n; note\r\n")
        let entry = try twiceConverted.entry(named: "Work")
        #expect(entry.lines.map(\.text) == ["PhoneNumber=5551234", "; note"])
        #expect(entry.phoneNumber == "5551234")
        #expect(try Phonebook(data: twiceConverted.data) == twiceConverted)
    }
}
