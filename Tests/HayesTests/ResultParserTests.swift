import Hayes
import Testing

private let verbal = ResultParser()
private let numeric = ResultParser(numericMode: true)

private func classify(_ text: String, _ terminator: LineTerminator = .crlf, parser: ResultParser = verbal) -> ModemResponse {
    parser.classify(FramedLine(text, terminator: terminator))
}

@Suite("ResultParser")
struct ResultParserTests {
    @Test("every verbal final result", arguments: [
        ("OK", FinalResult.ok),
        ("CONNECT", .connect(ConnectInfo())),
        ("NO CARRIER", .noCarrier),
        ("ERROR", .error),
        ("NO DIALTONE", .noDialTone),
        ("NO DIAL TONE", .noDialTone),
        ("BUSY", .busy),
        ("NO ANSWER", .noAnswer),
        ("DELAYED", .delayed),
        ("BLACKLISTED", .blacklisted),
        ("BLACKLIST FULL", .blacklistFull),
        ("VOICE", .voice),
        ("NO LINE", .noLine),
        ("LINE IN USE", .lineInUse),
        ("UN-OBTAINABLE NUMBER", .unobtainableNumber),
        ("UNOBTAINABLE NUMBER", .unobtainableNumber),
        ("+FCERROR", .faxError),
    ])
    func finals(text: String, expected: FinalResult) {
        #expect(classify(text) == .final(expected))
        #expect(classify(text.lowercased()) == .final(expected))
        #expect(classify("  \(text)\t ") == .final(expected))
        #expect(classify(text, .cr, parser: numeric) == .final(expected))
        #expect(classify(text, .lf) == .final(expected))
        #expect(ResultParser.classify(verbal: text) == .final(expected))
    }

    @Test("case and inner whitespace")
    func looseMatching() {
        #expect(classify("No Carrier") == .final(.noCarrier))
        #expect(classify("no  dial\ttone") == .final(.noDialTone))
        #expect(classify("Ok") == .final(.ok))
        #expect(classify("OKAY") == .info("OKAY"))
        #expect(classify("NO CARRIERS") == .info("NO CARRIERS"))
        #expect(classify("BUSY SIGNAL") == .info("BUSY SIGNAL"))
    }

    @Test("success versus failure")
    func success() {
        #expect(FinalResult.ok.isSuccess)
        #expect(FinalResult.connect(ConnectInfo(rate: 2400)).isSuccess)
        let failures: [FinalResult] = [
            .noCarrier, .error, .noDialTone, .busy, .noAnswer, .delayed, .blacklisted, .blacklistFull,
            .voice, .noLine, .lineInUse, .unobtainableNumber, .faxError,
        ]
        for failure in failures {
            #expect(!failure.isSuccess)
            #expect(ResultParser.classify(verbal: failure.description) == .final(failure))
        }
    }

    @Test("CONNECT variants", arguments: [
        ("CONNECT", nil, nil),
        ("CONNECT 2400", 2400, nil),
        ("CONNECT 33,600", 33600, nil),
        ("CONNECT 115,200", 115200, nil),
        ("CONNECT 14400/ARQ", 14400, "ARQ"),
        ("CONNECT 33600/ARQ/V42BIS", 33600, "ARQ/V42BIS"),
        ("CONNECT 28800/ARQ/V42b", 28800, "ARQ/V42b"),
        ("CONNECT 38400/V.32bis 14400/V.42bis", 38400, "V.32bis 14400/V.42bis"),
        ("CONNECT 115200/V34/LAPM/V42B/TX=28800/RX=28000", 115200, "V34/LAPM/V42B/TX=28800/RX=28000"),
        ("CONNECT 14400/ARQ/ MNP5", 14400, "ARQ/ MNP5"),
        ("CONNECT 9600 LAPM", 9600, "LAPM"),
        ("CONNECT 75TX/1200RX", 75, "TX/1200RX"),
        ("connect 57600", 57600, nil),
        ("CONNECT  19200 ", 19200, nil),
        ("CONNECT FAX", nil, "FAX"),
        ("CONNECT/ARQ", nil, "ARQ"),
        ("CONNECT 28800,26400", 28800, ",26400"),
        ("CONNECT 99999999999999999999999", nil, "99999999999999999999999"),
    ] as [(String, Int?, String?)])
    func connect(text: String, rate: Int?, proto: String?) throws {
        guard case .final(.connect(let info)) = classify(text) else {
            Issue.record("\(text) is not CONNECT: \(classify(text))")
            return
        }
        #expect(info.rate == rate)
        #expect(info.protocol == proto)
    }

    @Test("CONNECT keeps the whole text as detail")
    func connectDetail() {
        let response = classify("CONNECT 33600/ARQ/V42BIS")
        #expect(response == .final(.connect(ConnectInfo(rate: 33600, protocol: "ARQ/V42BIS", detail: "33600/ARQ/V42BIS"))))
        #expect(FinalResult.connect(ConnectInfo(rate: 33600, protocol: "ARQ/V42BIS", detail: "33600/ARQ/V42BIS")).description
            == "CONNECT 33600/ARQ/V42BIS")
        #expect(FinalResult.connect(ConnectInfo()).description == "CONNECT")
    }

    @Test("words that only start like CONNECT or CARRIER are info")
    func lookalikes() {
        #expect(classify("CONNECTED") == .info("CONNECTED"))
        #expect(classify("CARRIERS") == .info("CARRIERS"))
        #expect(classify("RINGS") == .info("RINGS"))
    }

    @Test("numeric codes of the standard table", arguments: [
        ("0", ModemResponse.final(.ok)),
        ("1", .final(.connect(ConnectInfo()))),
        ("2", .ring),
        ("3", .final(.noCarrier)),
        ("4", .final(.error)),
        ("5", .final(.connect(ConnectInfo(rate: 1200, detail: "1200")))),
        ("6", .final(.noDialTone)),
        ("7", .final(.busy)),
        ("8", .final(.noAnswer)),
        ("10", .final(.connect(ConnectInfo(rate: 2400, detail: "2400")))),
        ("9", .unrecognised("9")),
        ("11", .unrecognised("11")),
        ("24", .unrecognised("24")),
        ("999", .unrecognised("999")),
        ("99999999999999999999", .unrecognised("99999999999999999999")),
        (" 0 ", .final(.ok)),
    ])
    func numericCodes(text: String, expected: ModemResponse) {
        #expect(classify(text, .cr, parser: numeric) == expected)
    }

    @Test("digits ended by CR LF are info in V0; all digits are info in V1")
    func digitsAsInfo() {
        #expect(classify("0", .crlf, parser: numeric) == .info("0"))
        #expect(classify("050", .crlf, parser: numeric) == .info("050"))
        #expect(classify("5601", .lf, parser: numeric) == .info("5601"))
        #expect(classify("0", .none, parser: numeric) == .info("0"))
        #expect(classify("0", .cr) == .info("0"))
        #expect(classify("050") == .info("050"))
        #expect(classify("3", .cr) == .info("3"))
    }

    @Test("vendor tables", arguments: [
        (NumericResultTable.conexant, 9, FinalResult.connect(ConnectInfo(rate: 600, detail: "600"))),
        (.conexant, 13, .connect(ConnectInfo(rate: 7200, detail: "7200"))),
        (.conexant, 17, .connect(ConnectInfo(rate: 38400, detail: "38400"))),
        (.conexant, 19, .connect(ConnectInfo(rate: 115200, detail: "115200"))),
        (.conexant, 24, .delayed),
        (.conexant, 32, .blacklisted),
        (.conexant, 83, .lineInUse),
        (.zyxel, 6, .noDialTone),
        (.zyxel, 13, .connect(ConnectInfo(rate: 14400, detail: "14400"))),
        (.zyxel, 24, .connect(ConnectInfo(rate: 7200, detail: "7200"))),
        (.zyxel, 32, .connect(ConnectInfo(rate: 28800, detail: "28800"))),
        (.zyxel, 35, .connect(ConnectInfo(rate: 33600, detail: "33600"))),
        (.siliconLabs, 40, .blacklistFull),
        (.siliconLabs, 41, .blacklisted),
        (.siliconLabs, 42, .noLine),
        (.siliconLabs, 52, .connect(ConnectInfo(rate: 56000, detail: "56000"))),
        (.siliconLabs, 69, .connect(ConnectInfo(rate: 37333, detail: "37333"))),
        (.siliconLabs, 90, .connect(ConnectInfo(rate: 38666, detail: "38666"))),
        (.siliconLabs, 101, .connect(ConnectInfo(rate: 54666, detail: "54666"))),
        (.siliconLabs, 102, .unobtainableNumber),
    ])
    func vendorTables(table: NumericResultTable, code: Int, expected: FinalResult) {
        let parser = ResultParser(numericMode: true, table: table)
        #expect(classify("\(code)", .cr, parser: parser) == .final(expected))
    }

    @Test("vendor tables keep the standard codes and classify every entry")
    func vendorTablesComplete() {
        for table in [NumericResultTable.standard, .conexant, .zyxel, .siliconLabs] {
            for code in [0, 1, 2, 3, 4, 5, 6, 7, 8, 10] {
                #expect(table[code] == NumericResultTable.standard[code])
            }
            for (code, text) in table.verbal {
                switch table[code] {
                case .final, .intermediate, .ring, .ringing: break
                default: Issue.record("code \(code) '\(text)' is not a result")
                }
            }
        }
        #expect(NumericResultTable.siliconLabs[9] == .ringing)
        #expect(NumericResultTable.siliconLabs[70] == .intermediate(.errorControl("NONE")))
        #expect(NumericResultTable.siliconLabs[79] == .intermediate(.errorControl("V42bis")))
        #expect(NumericResultTable.standard[9] == nil)
    }

    @Test("custom tables")
    func customTable() {
        let table = NumericResultTable.standard.merging([88: "DELAYED", 89: "BLACKLISTED", 3: "BUSY"])
        let parser = ResultParser(numericMode: true, table: table)
        #expect(classify("88", .cr, parser: parser) == .final(.delayed))
        #expect(classify("89", .cr, parser: parser) == .final(.blacklisted))
        #expect(classify("3", .cr, parser: parser) == .final(.busy))
        #expect(NumericResultTable([1: "HELLO"])[1] == .info("HELLO"))
    }

    @Test("intermediates", arguments: [
        ("CARRIER 28800", ConnectionDetail.carrier(rate: 28800, text: "28800")),
        ("CARRIER 33,600", .carrier(rate: 33600, text: "33,600")),
        ("CARRIER 1200/75", .carrier(rate: 1200, text: "1200/75")),
        ("+MRR: 28800,26400", .carrier(rate: 28800, text: "28800,26400")),
        ("+MCR: V34", .modulation("V34")),
        ("PROTOCOL: LAPM", .errorControl("LAPM")),
        ("PROTOCOL: ALT", .errorControl("ALT")),
        ("PROTOCOL:NONE", .errorControl("NONE")),
        ("protocol: lapm", .errorControl("lapm")),
        ("+ER: LAPM", .errorControl("LAPM")),
        ("COMPRESSION: V42BIS", .compression("V42BIS")),
        ("COMPRESSION: CLASS 5", .compression("CLASS 5")),
        ("COMPRESSION: NONE", .compression("NONE")),
        ("+DR: V42B", .compression("V42B")),
        ("+DR: V44", .compression("V44")),
        ("FAX", .callType("FAX")),
        ("DATA", .callType("DATA")),
    ])
    func intermediates(text: String, expected: ConnectionDetail) {
        #expect(classify(text) == .intermediate(expected))
        #expect(classify(text, .cr, parser: numeric) == .intermediate(expected))
    }

    @Test("rings")
    func rings() {
        #expect(classify("RING") == .ring)
        #expect(classify("ring") == .ring)
        #expect(classify("RING 2") == .ring)
        #expect(classify("RINGING") == .ringing)
        #expect(classify("2", .cr, parser: numeric) == .ring)
        #expect(classify("9", .cr, parser: ResultParser(numericMode: true, table: .siliconLabs)) == .ringing)
    }

    @Test("info text")
    func info() {
        #expect(classify("+GCAP: +FCLASS, +MS, +ES, +DS") == .info("+GCAP: +FCLASS, +MS, +ES, +DS"))
        #expect(classify("U.S. Robotics 56K FAX EXT") == .info("U.S. Robotics 56K FAX EXT"))
        #expect(classify("  Rockwell  ") == .info("Rockwell"))
        #expect(classify("+GMI: CONEXANT") == .info("+GMI: CONEXANT"))
        #expect(classify("S07=050", .cr, parser: numeric) == .info("S07=050"))
    }

    @Test("noise, truncated lines and echoes")
    func special() {
        #expect(classify("~~~}") == .unrecognised("~~~}"))
        #expect(classify("") == .unrecognised(""))
        #expect(classify(" \t ") == .unrecognised(""))
        #expect(verbal.classify(FramedLine("OK", isTruncated: true)) == .unrecognised("OK"))
        #expect(verbal.classify(FramedLine("ATZ", isEcho: true)) == .echo("ATZ"))
        #expect(numeric.classify(FramedLine("0", terminator: .cr, isEcho: true)) == .echo("0"))
        #expect(ResultParser.classify(verbal: "0") == .info("0"))
        #expect(ResultParser.classify(verbal: "ｏｋ") == .unrecognised("ｏｋ"))
    }
}
