import Hayes
import Testing

@Suite("LineFramer")
struct LineFramerTests {
    @Test("verbal result framed by CR LF")
    func verbal() {
        #expect(frame([bytes("\r\nOK\r\n")]) == [FramedLine("OK", terminator: .crlf)])
    }

    @Test("numeric result ended by a lone CR waits for flush")
    func numericNeedsFlush() {
        var framer = LineFramer()
        #expect(framer.feed(bytes("0\r")).isEmpty)
        #expect(framer.hasPendingLine)
        #expect(framer.flush() == [FramedLine("0", terminator: .cr)])
        #expect(!framer.hasPendingLine)
        #expect(framer.flush().isEmpty)
    }

    @Test("the next byte resolves a pending CR")
    func nextByteResolves() {
        var framer = LineFramer()
        #expect(framer.feed(bytes("0\r")).isEmpty)
        #expect(framer.feed(bytes("4")) == [FramedLine("0", terminator: .cr)])
        #expect(framer.feed(bytes("\r")).isEmpty)
        #expect(framer.feed(bytes("\n")) == [FramedLine("4", terminator: .crlf)])
        #expect(!framer.hasPendingLine)
    }

    @Test("a CR alone before a blank line is not pending")
    func blankPending() {
        var framer = LineFramer()
        #expect(framer.feed(bytes("\r")).isEmpty)
        #expect(!framer.hasPendingLine)
        #expect(framer.flush().isEmpty)
    }

    @Test("terminators in any mix")
    func terminators() {
        let lines = frame([bytes("\r\nA\r\nB\rC\nD\r\r\nE\n\rF\r")])
        #expect(lines == [
            FramedLine("A", terminator: .crlf),
            FramedLine("B", terminator: .cr),
            FramedLine("C", terminator: .lf),
            FramedLine("D", terminator: .crlf),
            FramedLine("E", terminator: .lf),
            FramedLine("F", terminator: .cr),
        ])
    }

    @Test("CR CR LF counts as one line end")
    func crcrlf() {
        #expect(frame([bytes("OK\r\r\n")]) == [FramedLine("OK", terminator: .crlf)])
        #expect(frame([bytes("OK\r\r\r\n")]) == [FramedLine("OK", terminator: .crlf)])
    }

    @Test("blank and whitespace-only lines are skipped")
    func blanks() {
        #expect(frame([bytes("\r\n\r\n\n\n\r\r   \r\n\t \r\nOK\r\n\r\n")]) == [FramedLine("OK")])
    }

    @Test("NUL and 0xFF are dropped")
    func nulAndFF() {
        #expect(frame([[0, 0x4F, 0, 0x4B, 0xFF, 0x0D, 0xFF, 0x0A, 0]]) == [FramedLine("OK")])
    }

    @Test("bit 7 is cleared")
    func parity() {
        // 'O'|0x80, 'K'|0x80, CR|0x80, LF|0x80
        #expect(frame([[0xCF, 0xCB, 0x8D, 0x8A]]) == [FramedLine("OK")])
    }

    @Test("control bytes other than CR, LF and TAB are dropped")
    func controls() {
        #expect(frame([bytes("\u{1B}[O\u{07}K\tX\u{08}\u{7F}\r\n")]) == [FramedLine("[OK\tX")])
    }

    @Test("a line split over many reads")
    func splitLine() {
        let chunks = ["\r", "\nCONN", "ECT 3", "3600/A", "RQ\r", "\n"].map(bytes)
        #expect(frame(chunks) == [FramedLine("CONNECT 33600/ARQ")])
    }

    @Test("several lines in one read")
    func severalLines() {
        let lines = frame([bytes("\r\nCARRIER 28800\r\n\r\nPROTOCOL: LAPM\r\n\r\nCONNECT 115200\r\n")])
        #expect(lines.map(\.text) == ["CARRIER 28800", "PROTOCOL: LAPM", "CONNECT 115200"])
    }

    @Test("an over-long line is cut and marked, the buffer stays bounded")
    func overLong() {
        var framer = LineFramer(maximumLineLength: 8)
        var lines: [FramedLine] = []
        for _ in 0..<100 {
            lines += framer.feed(bytes("ABCDEFGHIJ"))
            #expect(framer.bufferedByteCount <= 8)
        }
        lines += framer.feed(bytes("\r\nOK\r\n"))
        #expect(lines == [
            FramedLine("ABCDEFGH", terminator: .crlf, isTruncated: true),
            FramedLine("OK", terminator: .crlf),
        ])
    }

    @Test("a line of exactly the maximum is not truncated")
    func exactlyMaximum() {
        #expect(frame([bytes("ABCDEFGH\r\n")], maximumLineLength: 8) == [FramedLine("ABCDEFGH")])
        #expect(LineFramer(maximumLineLength: 0).maximumLineLength == 1)
        #expect(LineFramer().maximumLineLength == 2048)
    }

    @Test("E1 echo is marked")
    func echo() {
        let lines = frame([bytes("ATZ\r\r\nOK\r\n")], echo: "ATZ\r")
        #expect(lines == [FramedLine("ATZ", terminator: .crlf, isEcho: true), FramedLine("OK")])
    }

    @Test("echo matches ignoring case and spaces")
    func echoNormalized() {
        let lines = frame([bytes("ate0 q0 v1\r\r\nOK\r\n")], echo: "ATE0Q0V1\r")
        #expect(lines.map(\.isEcho) == [true, false])
    }

    @Test("echo after E0 was set is still recognised")
    func echoAfterE0() {
        var framer = LineFramer()
        framer.expectEcho(ATCommand(.echo(false)))
        #expect(framer.feed(bytes("ATE0\r\r\nOK\r\n")).map(\.isEcho) == [true, false])
        framer.expectEcho(ATCommand(.hangUp))
        #expect(framer.feed(bytes("ATH\r\r\nOK\r\n")).map(\.isEcho) == [true, false])
        framer.expectEcho(ATCommand(.identify(0)))
        #expect(framer.feed(bytes("\r\n5601\r\n\r\nOK\r\n")).map(\.isEcho) == [false, false])
    }

    @Test("echo with ESC garbage before it (gammu reply)")
    func echoAfterEscape() {
        let lines = frame([bytes("\u{1B}\rAT\r\r\nOK\r\n")], echo: "AT\r")
        #expect(lines == [FramedLine("AT", terminator: .crlf, isEcho: true), FramedLine("OK")])
        let glued = frame([bytes("\u{1B}~}ATZ\r\r\nOK\r\n")], echo: "ATZ\r")
        #expect(glued.map(\.isEcho) == [true, false])
    }

    @Test("echo after a noise line, and only once")
    func echoOnce() {
        let lines = frame([bytes("xyz\r\nATZ\r\r\nATZ\r\nOK\r\n")], echo: "ATZ\r")
        #expect(lines.map(\.isEcho) == [false, true, false, false])
    }

    @Test("V0 echo ends with CR only")
    func echoNumeric() {
        let lines = frame([bytes("ATZ\r0\r")], echo: "ATZ\r")
        #expect(lines == [FramedLine("ATZ", terminator: .cr, isEcho: true), FramedLine("0", terminator: .cr)])
    }

    @Test("a different line is not the echo")
    func notEcho() {
        #expect(frame([bytes("ATH\r\nOK\r\n")], echo: "ATZ\r").map(\.isEcho) == [false, false])
        #expect(frame([bytes("ATZX\r\n")], echo: "ATZ\r").map(\.isEcho) == [false])
        #expect(frame([bytes("AT\r\n")], echo: "ATZ\r").map(\.isEcho) == [false])
    }

    @Test("a new expectation replaces the old one, cancel and reset drop it")
    func echoLifecycle() {
        var framer = LineFramer()
        framer.expectEcho(bytes("ATZ\r"))
        framer.expectEcho(bytes("ATH\r"))
        #expect(framer.feed(bytes("ATZ\r\nATH\r\n")).map(\.isEcho) == [false, true])
        framer.expectEcho(bytes("ATZ\r"))
        framer.cancelEcho()
        #expect(framer.feed(bytes("ATZ\r\n")).map(\.isEcho) == [false])
        framer.expectEcho(bytes("ATZ\r"))
        framer.reset()
        #expect(framer.feed(bytes("ATZ\r\n")).map(\.isEcho) == [false])
        framer.expectEcho(bytes("\r"))
        #expect(framer.feed(bytes("OK\r\n")).map(\.isEcho) == [false])
    }

    @Test("finish emits unterminated text, reset drops it")
    func finishAndReset() {
        var framer = LineFramer()
        #expect(framer.feed(bytes("OK\r\nNO CARR")) == [FramedLine("OK")])
        #expect(framer.flush().isEmpty)
        #expect(framer.bufferedByteCount == 7)
        #expect(framer.finish() == [FramedLine("NO CARR", terminator: .none)])
        #expect(framer.bufferedByteCount == 0)
        #expect(framer.feed(bytes("A\rB")) == [FramedLine("A", terminator: .cr)])
        framer.reset()
        #expect(framer.finish().isEmpty)
        #expect(framer.feed(bytes("0\r")).isEmpty)
        #expect(framer.finish() == [FramedLine("0", terminator: .cr)])
    }

    @Test("text keeps inner spaces and tabs as received")
    func textPreserved() {
        #expect(frame([bytes("  +GCAP: +FCLASS, +MS\t\r\n")]) == [FramedLine("  +GCAP: +FCLASS, +MS\t")])
    }
}
