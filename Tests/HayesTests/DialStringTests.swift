import Hayes
import Testing

@Suite("DialString")
struct DialStringTests {
    @Test("accepts and normalizes", arguments: [
        ("5551234", "5551234"),
        ("555-1234", "5551234"),
        ("(555) 123.4567", "5551234567"),
        ("t555 1234", "T5551234"),
        ("P9,5551234", "P9,5551234"),
        ("9w5551234", "9W5551234"),
        ("*70,555-1234", "*70,5551234"),
        ("#31#5551234", "#31#5551234"),
        ("abcd", "ABCD"),
        ("0049 30 1234567", "0049301234567"),
        ("5551234@", "5551234@"),
        ("!5551234", "!5551234"),
        ("5551234;", "5551234;"),
        ("  5551234 ; ", "5551234;"),
        ("TA", "TA"),
    ])
    func accepts(input: String, normalized: String) throws {
        let dial = try DialString(input)
        #expect(dial.normalized == normalized)
        #expect(dial.description == normalized)
        #expect(dial.returnsToCommandMode == normalized.hasSuffix(";"))
    }

    @Test("accepts exactly the maximum length")
    func maximumLength() throws {
        let longest = String(repeating: "1", count: DialString.maximumLength)
        #expect(try DialString(longest).normalized == longest)
        // Separators do not count.
        #expect(try DialString(longest + " - ").normalized == longest)
        #expect(DialString.maximumLength == 36)
    }

    @Test("rejects", arguments: [
        ("5551234\rATH", DialStringError.controlCharacter(code: 13, position: 8)),
        ("5551234\nATH", .controlCharacter(code: 10, position: 8)),
        ("555\u{0}1234", .controlCharacter(code: 0, position: 4)),
        ("\u{1B}5551234", .controlCharacter(code: 0x1B, position: 1)),
        ("555\t1234", .controlCharacter(code: 9, position: 4)),
        ("555\u{7F}", .controlCharacter(code: 0x7F, position: 4)),
        ("555\u{85}1", .controlCharacter(code: 0x85, position: 4)),
        ("555+++", .plusSign(position: 4)),
        ("+15551234", .plusSign(position: 1)),
        ("555;ATD", .misplacedSemicolon(position: 4)),
        ("555;;", .misplacedSemicolon(position: 4)),
        ("555;1", .misplacedSemicolon(position: 4)),
        ("5551234ATZ", .embeddedCommand(position: 8)),
        ("555ATD1234", .embeddedCommand(position: 4)),
        ("555a-t1234", .embeddedCommand(position: 4)),
        ("ATD5551234", .embeddedCommand(position: 1)),
        ("５５５", .invalidCharacter("５", position: 1)),
        ("555１", .invalidCharacter("１", position: 4)),
        ("555x", .invalidCharacter("x", position: 4)),
        ("555 1234 R", .invalidCharacter("R", position: 10)),
        ("L", .invalidCharacter("L", position: 1)),
        ("S=1", .invalidCharacter("S", position: 1)),
        ("555\u{A0}1234", .invalidCharacter("\u{A0}", position: 4)),
        ("555/1234", .invalidCharacter("/", position: 4)),
        ("", .empty),
        (" -().", .empty),
        ("T", .noDigits),
        ("TPW,@!;", .noDigits),
        (String(repeating: "5", count: 37), .tooLong(length: 37, limit: 36)),
        (String(repeating: "5", count: 36) + ";", .tooLong(length: 37, limit: 36)),
    ])
    func rejects(input: String, expected: DialStringError) {
        #expect(throws: expected) { try DialString(input) }
    }

    @Test("the first problem is reported")
    func firstProblem() {
        // The CR comes before the '+' and the letter.
        #expect(throws: DialStringError.controlCharacter(code: 13, position: 2)) { try DialString("5\r+X") }
        #expect(throws: DialStringError.plusSign(position: 2)) { try DialString("5+\rX") }
    }

    @Test("positions can be moved to count in a longer text")
    func shiftingPositions() {
        #expect(DialStringError.invalidCharacter("H", position: 3).shiftingPositions(by: 3) == .invalidCharacter("H", position: 6))
        #expect(DialStringError.misplacedSemicolon(position: 2).shiftingPositions(by: 3) == .misplacedSemicolon(position: 5))
        #expect(DialStringError.tooLong(length: 40, limit: 36).shiftingPositions(by: 3) == .tooLong(length: 40, limit: 36))
        #expect(throws: DialStringError.invalidCharacter("H", position: 9)) { try DialString("5551234;H") }
    }

    @Test("messages name the character and its position")
    func messages() {
        #expect("\(DialStringError.controlCharacter(code: 13, position: 8))".contains("U+000D at position 8"))
        #expect("\(DialStringError.plusSign(position: 1))".contains("country code"))
        #expect("\(DialStringError.invalidCharacter("５", position: 3))".contains("'５' (U+FF15) at position 3"))
        #expect("\(DialStringError.tooLong(length: 40, limit: 36))".contains("limit is 36"))
        #expect("\(DialStringError.misplacedSemicolon(position: 4))".contains("position 4"))
        #expect("\(DialStringError.embeddedCommand(position: 8))".contains("'AT' at position 8"))
        #expect("\(DialStringError.empty)".contains("empty"))
    }

    @Test("no input produces a dial string with unsafe bytes")
    func neverUnsafe() {
        var rng = SplitMix64(seed: 0xD1A1)
        let alphabet = Array("0123456789*#ABCDabcdTPWtpw,@!;+ -().\r\nATZH\u{0}\u{1B}xyz５")
        var accepted = 0
        for _ in 0..<3000 {
            let length = Int.random(in: 0...40, using: &rng)
            let text = String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
            guard let dial = try? DialString(text) else { continue }
            accepted += 1
            let out = Array(dial.normalized.utf8)
            #expect(out.count <= DialString.maximumLength)
            #expect(out.allSatisfy { Set("0123456789*#ABCDTPW,@!;".utf8).contains($0) })
            #expect(!dial.normalized.contains("AT"))
            #expect(!out.dropLast().contains(UInt8(ascii: ";")))
        }
        #expect(accepted > 0)
    }
}
