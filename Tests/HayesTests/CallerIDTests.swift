import Foundation
import Hayes
import Testing

// MARK: - Building Bellcore GR-30 messages by hand

/// The byte that makes the sum of `bytes` and itself 0 modulo 256 (two's complement).
private func checksum(_ bytes: [UInt8]) -> UInt8 {
    0 &- bytes.reduce(0, &+)
}

/// Type, length, data and the checksum.
private func message(type: UInt8, _ data: [UInt8]) -> [UInt8] {
    let body = [type, UInt8(data.count)] + data
    return body + [checksum(body)]
}

/// One MDMF parameter: type, length, value.
private func parameter(_ type: UInt8, _ text: String) -> [UInt8] {
    [type, UInt8(text.utf8.count)] + Array(text.utf8)
}

private func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16, uppercase: true)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}

/// Feeds every line to a fresh parser; returns the parser and all events.
private func parse(_ lines: [String]) -> (parser: CallerIDParser, events: [CallerIDEvent]) {
    var parser = CallerIDParser()
    var events: [CallerIDEvent] = []
    for line in lines { events += parser.feed(line: line) }
    return (parser, events)
}

/// The caller ID collected from `lines`.
private func callerID(_ lines: [String]) -> CallerID? {
    var parser = parse(lines).parser
    return parser.finish()
}

private func problems(_ events: [CallerIDEvent]) -> [CallerIDProblem] {
    events.compactMap { event in
        if case .invalid(let problem) = event { return problem }
        return nil
    }
}

private func permutations<T>(_ items: [T]) -> [[T]] {
    guard items.count > 1 else { return [items] }
    return items.indices.flatMap { index in
        var rest = items
        let first = rest.remove(at: index)
        return permutations(rest).map { [first] + $0 }
    }
}

private let johnDoe = CallerID(number: "5551234", name: "JOHN DOE", month: 12, day: 4, hour: 15, minute: 30, form: .formatted)

@Suite("Caller ID")
struct CallerIDTests {
    // MARK: Formatted

    @Test("formatted fields, with or without blanks around =, any keyword case", arguments: [
        ["DATE = 1204", "TIME = 1530", "NMBR = 5551234", "NAME = JOHN DOE"],
        ["DATE=1204", "TIME=1530", "NMBR=5551234", "NAME=JOHN DOE"],
        ["date = 1204", "Time=1530", "nmbr =5551234", "Name= JOHN DOE"],
        ["  DATE =\t1204 ", "TIME   =   1530", "NMBR = 5551234  ", "NAME = JOHN DOE"],
    ])
    func formatted(lines: [String]) {
        #expect(callerID(lines) == johnDoe)
    }

    @Test("fields in any order, interleaved with RING and noise, give the same caller ID")
    func anyOrder() {
        let fields = ["DATE = 1204", "TIME = 1530", "NMBR = 5551234", "NAME = JOHN DOE", "MESG = HELLO"]
        var expected = johnDoe
        expected.message = "HELLO"
        for (index, order) in permutations(fields).enumerated() {
            var lines: [String] = ["RING"]
            for (position, line) in order.enumerated() {
                lines.append(line)
                if (index + position).isMultiple(of: 3) { lines += ["RING", "~~ #", "OK", "CONNECT"] }
            }
            lines.append("RING")
            #expect(callerID(lines) == expected, "order \(order)")
        }
    }

    @Test("each field updates the caller ID; lines that are not caller ID give no event")
    func events() {
        var parser = CallerIDParser()
        #expect(parser.feed(line: "RING").isEmpty)
        #expect(parser.current == nil)
        #expect(parser.feed(line: "NMBR = 5551234") == [.updated(CallerID(number: "5551234", form: .formatted))])
        #expect(parser.feed(line: "NO CARRIER").isEmpty)
        #expect(parser.feed(line: "FOO = BAR").isEmpty)
        #expect(parser.feed(line: "+VCID=1").isEmpty)
        #expect(parser.feed(line: "NAME = X") == [.updated(CallerID(number: "5551234", name: "X", form: .formatted))])
        #expect(parser.current?.name == "X")
    }

    @Test("withheld and unavailable, formatted", arguments: [
        ("NMBR = P", CallerID.AbsenceReason.private),
        ("NMBR = O", .unavailable),
        ("nmbr=p", .private),
        ("NMBR = PRIVATE", .private),
        ("NMBR = OUT OF AREA", .unavailable),
    ])
    func formattedAbsence(line: String, reason: CallerID.AbsenceReason) {
        let id = callerID(["DATE = 0101", line])
        #expect(id?.number == nil)
        #expect(id?.numberAbsence == reason)
        #expect(id?.isPrivate == (reason == .private))
    }

    @Test("a name withheld or unavailable", arguments: [("P", CallerID.AbsenceReason.private), ("O", .unavailable)])
    func formattedNameAbsence(value: String, reason: CallerID.AbsenceReason) {
        let id = callerID(["NMBR = 5551234", "NAME = \(value)"])
        #expect(id?.name == nil)
        #expect(id?.nameAbsence == reason)
        #expect(id?.number == "5551234")
    }

    @Test("DDN_NMBR is the number only when NMBR is absent, whatever the order")
    func dialableNumber() {
        #expect(callerID(["DDN_NMBR = 18005551234"])?.number == "18005551234")
        #expect(callerID(["DDN_NMBR = 18005551234", "NMBR = 5551234"])?.number == "5551234")
        #expect(callerID(["NMBR = 5551234", "DDN_NMBR = 18005551234"])?.number == "5551234")
        #expect(callerID(["NMBR = P", "DDN_NMBR = 18005551234"])?.number == nil)
    }

    @Test("bad DATE and TIME are reported and add nothing", arguments: ["DATE = 1304", "DATE = 12", "TIME = 2460", "TIME = 12:30", "DATE = ABCD"])
    func badDate(line: String) {
        let (parser, events) = parse([line])
        #expect(parser.current == nil)
        #expect(problems(events).count == 1)
    }

    // MARK: +VRID / +VCID prefix

    @Test("formatted fields behind +VRID: or +VCID:", arguments: ["+VRID:", "+VCID:", "+vrid: "])
    func vrid(prefix: String) {
        let lines = ["DATE = 1204", "TIME=1530", "NMBR = 5551234", "NAME = JOHN DOE"].map { prefix + $0 }
        var expected = johnDoe
        expected.form = .vrid
        #expect(callerID(lines) == expected)
        #expect(callerID([prefix + "NMBR=P"])?.numberAbsence == .private)
    }

    // MARK: 3GPP +CLIP / +CNAP

    @Test("+CLIP numbers and types", arguments: [
        (#"+CLIP: "5551234",129"#, "5551234"),
        (#"+CLIP: "4915112345678",145"#, "+4915112345678"),
        (#"+CLIP: "+4915112345678",145,"",,"",0"#, "+4915112345678"),
        (#"+clip:"5551234",161,,,,0"#, "5551234"),
    ])
    func clip(line: String, number: String) {
        let id = callerID(["RING", line, "RING"])
        #expect(id == CallerID(number: number, form: .clip))
    }

    @Test("+CLIP with a name (alpha) and CLI validity")
    func clipAlphaAndValidity() {
        #expect(callerID([#"+CLIP: "5551234",129,"",128,"JOHN, DOE",0"#]) == CallerID(number: "5551234", name: "JOHN, DOE", form: .clip))
        #expect(callerID([#"+CLIP: "",128,"",128,"",1"#]) == CallerID(numberAbsence: .private, form: .clip))
        for validity in [2, 3, 4] {
            #expect(callerID([#"+CLIP: "",128,,,,\#(validity)"#]) == CallerID(numberAbsence: .unavailable, form: .clip))
        }
        // Withheld, but shown anyway to a subscriber with the override category.
        #expect(callerID([#"+CLIP: "5551234",129,,,,1"#]) == CallerID(number: "5551234", numberAbsence: .private, form: .clip))
    }

    @Test("+CLIP lines that are not a call, or broken", arguments: ["+CLIP: 1,1", "+CLIP: 0,2", #"+CLIP: "",128"#])
    func clipNotACall(line: String) {
        let (parser, events) = parse([line])
        #expect(parser.current == nil)
        #expect(events.isEmpty)
    }

    @Test("+CLIP with an open quote is reported")
    func clipOpenQuote() {
        let (parser, events) = parse([#"+CLIP: "5551234,129"#])
        #expect(parser.current == nil)
        #expect(problems(events).count == 1)
    }

    @Test("+CNAP names and their validity")
    func cnap() {
        #expect(callerID([#"+CLIP: "5551234",129"#, #"+CNAP: "JOHN DOE",0"#]) == CallerID(number: "5551234", name: "JOHN DOE", form: .clip))
        #expect(callerID([#"+CNAP: "",1"#]) == CallerID(nameAbsence: .private, form: .clip))
        #expect(callerID([#"+CNAP: "",2"#]) == CallerID(nameAbsence: .unavailable, form: .clip))
    }

    // MARK: SDMF

    @Test("a published SDMF example decodes (09-30 12:24, 6095551212)")
    func publishedSDMF() {
        let line = "041230393330313232343630393535353132313251"
        #expect(callerID([line]) == CallerID(number: "6095551212", month: 9, day: 30, hour: 12, minute: 24, form: .sdmf))
    }

    @Test("SDMF with a number, private or unavailable; good checksum", arguments: [
        ("5551234", "5551234", nil),
        ("P", nil, CallerID.AbsenceReason.private),
        ("O", nil, .unavailable),
    ] as [(String, String?, CallerID.AbsenceReason?)])
    func sdmf(tail: String, number: String?, reason: CallerID.AbsenceReason?) {
        let bytes = message(type: 0x04, ascii("12041530" + tail))
        let expected = CallerID(number: number, month: 12, day: 4, hour: 15, minute: 30, numberAbsence: reason, form: .sdmf)
        #expect(callerID([hex(bytes)]) == expected)
        #expect(callerID([hex(bytes).lowercased()]) == expected)
        #expect(callerID(["RING", "MESG = " + hex(bytes), "RING"]) == expected)
        var spaced = hex(bytes)
        spaced.insert(" ", at: spaced.index(spaced.startIndex, offsetBy: 4))
        #expect(callerID([spaced]) == expected)
    }

    @Test("SDMF with every wrong checksum gives no caller ID and says why")
    func sdmfBadChecksum() {
        let good = message(type: 0x04, ascii("120415305551234"))
        for wrong in UInt8.min...UInt8.max where wrong != good[good.count - 1] {
            var bytes = good
            bytes[bytes.count - 1] = wrong
            let (parser, events) = parse([hex(bytes)])
            #expect(parser.current == nil)
            #expect(events == [.invalid(.badChecksum(sum: wrong &- good[good.count - 1]))])
            #expect(parser.lastProblem == .badChecksum(sum: wrong &- good[good.count - 1]))
        }
    }

    // MARK: MDMF

    private static let mdmfJohnDoe = message(type: 0x80,
        parameter(0x01, "12041530") + parameter(0x02, "5551234") + parameter(0x07, "JOHN DOE"))

    @Test("MDMF with date, number and name, in any parameter order")
    func mdmf() {
        let parameters = [parameter(0x01, "12041530"), parameter(0x02, "5551234"), parameter(0x07, "JOHN DOE"), parameter(0x06, "L")]
        var expected = johnDoe
        expected.form = .mdmf
        for order in permutations(parameters) {
            let bytes = message(type: 0x80, order.flatMap { $0 })
            #expect(callerID(["RING", hex(bytes), "RING"]) == expected)
            #expect(callerID(["MESG = " + hex(bytes)]) == expected)
            #expect(callerID(["+VRID: " + hex(bytes)]) == expected)
        }
    }

    @Test("MDMF reasons for an absent number or name", arguments: [
        ([parameter(0x04, "P"), parameter(0x08, "P")], CallerID(numberAbsence: .private, nameAbsence: .private, form: .mdmf)),
        ([parameter(0x04, "O"), parameter(0x08, "O")], CallerID(numberAbsence: .unavailable, nameAbsence: .unavailable, form: .mdmf)),
        ([parameter(0x02, "P"), parameter(0x07, "JOHN")], CallerID(name: "JOHN", numberAbsence: .private, form: .mdmf)),
        ([parameter(0x03, "18005551234"), parameter(0x08, "O")], CallerID(number: "18005551234", nameAbsence: .unavailable, form: .mdmf)),
    ])
    func mdmfAbsence(parameters: [[UInt8]], expected: CallerID) {
        #expect(callerID([hex(message(type: 0x80, parameters.flatMap { $0 }))]) == expected)
    }

    @Test("MDMF with a wrong checksum gives no caller ID", arguments: [1, 2, 0x80, 0xFF] as [UInt8])
    func mdmfBadChecksum(delta: UInt8) {
        var bytes = Self.mdmfJohnDoe
        bytes[bytes.count - 1] &+= delta
        let (parser, events) = parse(["RING", hex(bytes), "RING"])
        #expect(parser.current == nil)
        #expect(events == [.invalid(.badChecksum(sum: delta))])
    }

    @Test("a flipped data byte breaks the checksum")
    func mdmfCorrupted() {
        var bytes = Self.mdmfJohnDoe
        bytes[10] ^= 0x01
        #expect(callerID([hex(bytes)]) == nil)
    }

    @Test("a published MDMF example whose checksum is wrong is refused")
    func publishedMDMFWithBadChecksum() {
        let line = "80200108303332343039303207084A4F484E20444F45020A383030353535313231327D"
        let (parser, events) = parse([line])
        #expect(parser.current == nil)
        #expect(events == [.invalid(.badChecksum(sum: 0xF9))])
    }

    @Test("MDMF continued on the next line (as U.S. Robotics prints it)")
    func mdmfOverTwoLines() {
        let text = hex(Self.mdmfJohnDoe)
        let cut = text.index(text.startIndex, offsetBy: 30)
        var parser = CallerIDParser()
        #expect(parser.feed(line: "RING").isEmpty)
        #expect(parser.feed(line: String(text[..<cut])).isEmpty)
        var expected = johnDoe
        expected.form = .mdmf
        #expect(parser.feed(line: String(text[cut...])) == [.updated(expected)])
    }

    @Test("a truncated hex message is reported when another line comes, or at finish")
    func truncated() {
        let text = hex(Self.mdmfJohnDoe)
        let received = (text.count - 8) / 2
        let expectedProblem = CallerIDProblem.truncated(expected: Self.mdmfJohnDoe.count, received: received)
        var parser = CallerIDParser()
        #expect(parser.feed(line: String(text.dropLast(8))).isEmpty)
        #expect(parser.feed(line: "RING") == [.invalid(expectedProblem)])
        #expect(parser.finish() == nil)

        #expect(parser.feed(line: String(text.dropLast(8))).isEmpty)
        #expect(parser.feed(line: "NMBR = 5551234") == [.invalid(expectedProblem), .updated(CallerID(number: "5551234", form: .formatted))])

        parser.reset()
        #expect(parser.feed(line: String(text.dropLast(8))).isEmpty)
        #expect(parser.finish() == nil)
        #expect(parser.lastProblem == expectedProblem)

        let (short, events) = parse(["MESG = " + String(text.dropLast(2))])
        #expect(short.current == nil)
        #expect(problems(events) == [.truncated(expected: Self.mdmfJohnDoe.count, received: Self.mdmfJohnDoe.count - 1)])
    }

    @Test("MDMF parameters that overrun the message are refused")
    func mdmfOverrun() {
        let bytes = message(type: 0x80, [0x02, 0x09] + ascii("5551234"))
        let (parser, events) = parse([hex(bytes)])
        #expect(parser.current == nil)
        #expect(problems(events).count == 1)
    }

    @Test("MESG that is not a caller ID message is kept as text; odd hex is refused")
    func mesg() {
        #expect(callerID(["MESG = 0B01FF", "NMBR = 1"]) == CallerID(number: "1", message: "0B01FF", form: .formatted))
        let (parser, events) = parse(["MESG = 80" + "123"])
        #expect(parser.current == nil)
        #expect(problems(events).count == 1)
    }

    // MARK: Garbage and bounds

    @Test("garbage lines are ignored", arguments: [
        "", "   ", "=", "= 1234", "NMBR =", "NMBR=   ", "8012345", "0A0B0C0D", "DEADBEEF", "12345",
        String(repeating: "NMBR = 1", count: 100), "NAME = J\u{00D6}RG", "NMBR = 555\u{0007}1234",
        "04" + String(repeating: "F", count: 599), "RING 2", "CONNECT 33600",
    ])
    func garbage(line: String) {
        var parser = CallerIDParser()
        _ = parser.feed(line: line)
        _ = parser.feed(line: "RING")
        #expect(parser.finish() == nil)
    }

    @Test("overlong fields are cut")
    func longFields() {
        let long = String(repeating: "9", count: 500)
        let id = callerID(["NMBR = " + long, "NAME = " + long, "MESG = " + long + "X"])
        #expect(id?.number?.count == CallerIDParser.maximumFieldLength)
        #expect(id?.name?.count == CallerIDParser.maximumFieldLength)
        #expect(id?.message?.count == CallerIDParser.maximumMessageLength)
    }

    @Test("random lines never crash and stay bounded", arguments: [1, 2, 3, 4] as [UInt64])
    func randomLines(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let pieces = ["DATE", "TIME", "NMBR", "NAME", "MESG", "DDN_NMBR", "+VRID:", "+CLIP:", "+CNAP:", "=", " = ",
                      "\"", ",", "P", "O", "04", "80", "0", "1", "FF", "1204", "RING", "12041530", " ", "\u{00E9}", "\t"]
        var parser = CallerIDParser()
        for round in 0..<3000 {
            var line = ""
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:
                for _ in 0..<Int.random(in: 0..<12, using: &rng) { line += pieces[Int.random(in: 0..<pieces.count, using: &rng)] }
            case 1:
                let data = (0..<Int.random(in: 0..<40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                var bytes = [[0x04, 0x80][Int.random(in: 0..<2, using: &rng)], UInt8.random(in: 0...255, using: &rng)] + data
                if Bool.random(using: &rng) { bytes = message(type: bytes[0], Array(bytes.dropFirst(2).prefix(255))) }
                line = hex(bytes)
                if Bool.random(using: &rng) { line = String(line.dropLast(Int.random(in: 0...line.count, using: &rng))) }
            case 2:
                line = String((0..<Int.random(in: 0..<700, using: &rng)).map { _ in
                    Character(Unicode.Scalar(UInt8.random(in: 0...127, using: &rng)))
                })
            default:
                line = "NMBR = " + String(repeating: "5", count: Int.random(in: 0..<200, using: &rng))
            }
            _ = parser.feed(line: line)
            if let id = parser.current {
                #expect((id.number?.count ?? 0) <= CallerIDParser.maximumFieldLength + 1)  // +1: a `+` for type 145
                #expect((id.name?.count ?? 0) <= CallerIDParser.maximumFieldLength)
                #expect((id.message?.count ?? 0) <= CallerIDParser.maximumMessageLength)
            }
            if round.isMultiple(of: 50) { _ = parser.finish() }
        }
    }

    // MARK: Session use

    @Test("finish returns the call and starts over; reset forgets")
    func finishAndReset() {
        var parser = CallerIDParser()
        _ = parser.feed(line: "NMBR = 5551234")
        #expect(parser.finish()?.number == "5551234")
        #expect(parser.current == nil)
        _ = parser.feed(line: "NAME = SECOND")
        #expect(parser.finish() == CallerID(name: "SECOND", form: .formatted))
        _ = parser.feed(line: "NMBR = 1")
        _ = parser.feed(line: "04")
        parser.reset()
        #expect(parser.current == nil)
        #expect(parser.lastProblem == nil)
    }

    @Test("framed lines: echoes and truncated lines are skipped")
    func framedLines() {
        var parser = CallerIDParser()
        #expect(parser.feed(FramedLine("NMBR = 1", isEcho: true)).isEmpty)
        #expect(parser.feed(FramedLine("NMBR = 2", isTruncated: true)).isEmpty)
        #expect(parser.feed(FramedLine("NMBR = 3")) == [.updated(CallerID(number: "3", form: .formatted))])
    }

    @Test("bytes from the modem through the line framer")
    func throughFramer() {
        let hexLine = hex(Self.mdmfJohnDoe)
        let stream = "\r\nRING\r\n\r\nDATE = 1204\r\nTIME = 1530\r\nNMBR = 5551234\r\nNAME = JOHN DOE\r\n\r\nRING\r\n\r\n" + hexLine + "\r\n"
        var rng = SplitMix64(seed: 7)
        for _ in 0..<50 {
            var decoder = ResponseDecoder()
            var parser = CallerIDParser()
            for chunk in randomSplit(Array(stream.utf8), using: &rng) {
                for decoded in decoder.feed(chunk) { _ = parser.feed(decoded.line) }
            }
            // The MDMF repeats the same fields; the form is that of the first line.
            #expect(parser.finish() == johnDoe)
        }
    }

    @Test("the result parser leaves caller ID lines as information text", arguments: [
        "DATE = 1204", "NMBR = 5551234", "NAME = BUSY", "NAME = NO CARRIER", "MESG = 80", "+CLIP: \"5551234\",129",
        "+VRID: NMBR=P", "DDN_NMBR = 1",
    ])
    func resultParser(line: String) {
        #expect(ResultParser.classify(verbal: line) == .info(line))
    }

    // MARK: JSON

    @Test("JSON uses stable keys and round-trips")
    func json() throws {
        var id = johnDoe
        id.numberAbsence = .private
        id.message = "HI"
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(id), as: UTF8.self)
        #expect(text == #"{"day":4,"form":"formatted","hour":15,"message":"HI","minute":30,"month":12,"name":"JOHN DOE","number":"5551234","numberAbsence":"private"}"#)
        #expect(try JSONDecoder().decode(CallerID.self, from: Data(text.utf8)) == id)
        let minimal = String(decoding: try encoder.encode(CallerID(nameAbsence: .unavailable, form: .mdmf)), as: UTF8.self)
        #expect(minimal == #"{"form":"mdmf","nameAbsence":"unavailable"}"#)
    }

    // MARK: Enabling caller ID

    @Test("every enable command is a valid init string, except %CCID, which is never a blind fallback")
    func enableCommandsValid() throws {
        for entry in CallerIDEnable.table {
            let command = try entry.atCommand()
            #expect("AT" + command.body == entry.command)
            if entry.requiresIdentification {
                // `%CCID=1` reads as `%C`, `C`, `I`, `D=1` to a V.250 parser: a dial.
                #expect(throws: ATCommandError.self) { try ATCommand(initString: entry.command) }
                #expect(!CallerIDEnable.candidates().contains(entry))
            } else {
                #expect(try ATCommand(initString: entry.command) == command)
            }
        }
        #expect(CallerIDEnable.table.filter(\.requiresIdentification).map(\.family) == [.lucent])
        #expect(Set(CallerIDEnable.table.map(\.family)) == Set(CallerIDEnable.Family.allCases))
        #expect(Set(CallerIDEnable.fallbackOrder) == [.v253, .rockwell, .cellular])
    }

    @Test("the table picks the command from the identity", arguments: [
        (nil, nil, [], ["+FCLASS", "+MS", "+ES", "+DS", "+VCID"], "AT+VCID=1"),
        ("U.S. Robotics", "56K FAX EXT", [], ["+FCLASS", "+MS"], "AT+VCID=1"),
        ("3Com", nil, [], [], "AT+VCID=1"),
        ("CONEXANT", "HDAUDIO SOFT DATA FAX MODEM", [], ["+FCLASS", "+MS", "+ES", "+DS"], "AT#CID=1"),
        (nil, nil, ["56000", "Rockwell RCV56ACF"], [], "AT#CID=1"),
        (nil, nil, ["Supports #CID"], [], "AT#CID=1"),
        ("Lucent", nil, [], [], "AT%CCID=1"),
        ("Hayes Microcomputer Products", nil, [], [], "AT%CCID=1"),
        (nil, nil, ["Hayes compatible"], [], "AT+VCID=1"),
        (nil, nil, ["Agere Systems SoftModem"], [], "AT%CCID=1"),
        ("Quectel", "EC25", [], ["+CGSM"], "AT+CLIP=1"),
        (nil, nil, [], [" +cgsm "], "AT+CLIP=1"),
        ("Huawei", nil, [], [], "AT+CLIP=1"),
        // A Conexant that lists +VCID: the capability wins, #CID comes next.
        ("Conexant", nil, [], ["+VCID"], "AT+VCID=1"),
        (nil, nil, [], [], "AT+VCID=1"),
        ("Unknown Maker", "X", ["HELLO"], ["+MS"], "AT+VCID=1"),
    ] as [(String?, String?, [String], [String], String)])
    func enableChoice(manufacturer: String?, model: String?, information: [String], capabilities: [String], command: String) {
        let candidates = CallerIDEnable.candidates(
            manufacturer: manufacturer, model: model, information: information, capabilities: capabilities)
        #expect(candidates.first?.command == command)
        #expect(candidates.count == (command == "AT%CCID=1" ? 4 : 3))
        #expect(Set(candidates.map(\.family)).count == candidates.count)
    }

    @Test("with no clue the fallback order is tried")
    func enableFallback() {
        #expect(CallerIDEnable.candidates().map(\.command) == ["AT+VCID=1", "AT#CID=1", "AT+CLIP=1"])
        #expect(CallerIDEnable.candidates(manufacturer: "Conexant", capabilities: ["+VCID"]).map(\.command)
            == ["AT+VCID=1", "AT#CID=1", "AT+CLIP=1"])
        #expect(CallerIDEnable.candidates(manufacturer: "Quectel").map(\.command) == ["AT+CLIP=1", "AT+VCID=1", "AT#CID=1"])
        #expect(CallerIDEnable.candidates(manufacturer: "Lucent").map(\.command)
            == ["AT%CCID=1", "AT+VCID=1", "AT#CID=1", "AT+CLIP=1"])
    }
}
