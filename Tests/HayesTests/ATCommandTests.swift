import Hayes
import Testing

@Suite("ATCommand")
struct ATCommandTests {
    @Test("single parts encode", arguments: [
        (ATCommand.Part.reset, "ATZ\r"),
        (.factoryDefaults, "AT&F\r"),
        (.echo(false), "ATE0\r"),
        (.echo(true), "ATE1\r"),
        (.verbose(false), "ATV0\r"),
        (.verbose(true), "ATV1\r"),
        (.quiet(false), "ATQ0\r"),
        (.quiet(true), "ATQ1\r"),
        (.resultCodes(.x0), "ATX0\r"),
        (.resultCodes(.x4), "ATX4\r"),
        (.dcd(.alwaysOn), "AT&C0\r"),
        (.dcd(.followsCarrier), "AT&C1\r"),
        (.dtr(.ignore), "AT&D0\r"),
        (.dtr(.onlineCommand), "AT&D1\r"),
        (.dtr(.hangUp), "AT&D2\r"),
        (.dtr(.reset), "AT&D3\r"),
        (.setRegister(0, 0), "ATS0=0\r"),
        (.setRegister(7, 50), "ATS7=50\r"),
        (.setRegister(255, 255), "ATS255=255\r"),
        (.queryRegister(7), "ATS7?\r"),
        (.hangUp, "ATH\r"),
        (.online, "ATO\r"),
        (.answer, "ATA\r"),
        (.identify(0), "ATI0\r"),
        (.identify(4), "ATI4\r"),
        (.capabilities, "AT+GCAP\r"),
        (.manufacturer, "AT+GMI\r"),
        (.model, "AT+GMM\r"),
        (.revision, "AT+GMR\r"),
        (.dataMode, "AT+FCLASS=0\r"),
    ])
    func singlePart(part: ATCommand.Part, expected: String) throws {
        #expect(ATCommand(part).encoded() == bytes(expected))
        #expect(try ATCommand(parts: [part]).encoded() == bytes(expected))
    }

    @Test("every X level encodes its number")
    func resultCodeLevels() {
        for (index, set) in ATCommand.ResultCodeSet.allCases.enumerated() {
            #expect(ATCommand(.resultCodes(set)).description == "ATX\(index)")
        }
    }

    @Test("dial commands")
    func dial() throws {
        #expect(ATCommand(.dial(try DialString("t555-1234"))).encoded() == bytes("ATDT5551234\r"))
        #expect(ATCommand(.dial(try DialString("5551234;"))).encoded() == bytes("ATD5551234;\r"))
        let longest = try DialString(String(repeating: "9", count: 35) + ";")
        #expect(ATCommand(.dial(longest)).body.utf8.count == 37)
    }

    @Test("parts combine into one line")
    func combined() throws {
        let command = try ATCommand(parts: [
            .echo(false), .quiet(false), .verbose(true), .resultCodes(.x4),
            .dcd(.followsCarrier), .dtr(.hangUp), .setRegister(0, 0), .dataMode,
        ])
        #expect(command.description == "ATE0Q0V1X4&C1&D2S0=0+FCLASS=0")
        #expect(command.encoded() == bytes("ATE0Q0V1X4&C1&D2S0=0+FCLASS=0\r"))
        #expect(try ATCommand(parts: [.hangUp, .setRegister(0, 0), .reset]).description == "ATHS0=0Z")
        #expect(try ATCommand(parts: [.verbose(true), .dial(DialString("123"))]).description == "ATV1D123")
    }

    @Test("extended commands are followed by ';' when another command follows")
    func extendedSeparator() throws {
        #expect(try ATCommand(parts: [.capabilities, .manufacturer, .model]).description == "AT+GCAP;+GMI;+GMM")
        #expect(try ATCommand(parts: [.dataMode, .echo(false)]).description == "AT+FCLASS=0;E0")
        #expect(try ATCommand(parts: [.echo(false), .dataMode]).description == "ATE0+FCLASS=0")
        #expect(try ATCommand(parts: [.dataMode, .dial(DialString("1"))]).description == "AT+FCLASS=0;D1")
    }

    @Test("no parts is plain AT")
    func attention() throws {
        #expect(ATCommand.attention.encoded() == bytes("AT\r"))
        #expect(try ATCommand(parts: []) == ATCommand.attention)
    }

    @Test("Z, O, A and D must end the line")
    func mustEndLine() throws {
        #expect(throws: ATCommandError.mustEndLine(command: "Z")) { try ATCommand(parts: [.reset, .echo(false)]) }
        #expect(throws: ATCommandError.mustEndLine(command: "O")) { try ATCommand(parts: [.online, .hangUp]) }
        #expect(throws: ATCommandError.mustEndLine(command: "A")) { try ATCommand(parts: [.answer, .echo(true)]) }
        let dial = try DialString("123")
        #expect(throws: ATCommandError.mustEndLine(command: "D123")) { try ATCommand(parts: [.dial(dial), .hangUp]) }
    }

    @Test("a body over 40 characters is refused")
    func tooLong() throws {
        let forty: [ATCommand.Part] = Array(repeating: .setRegister(10, 100), count: 5)  // "S10=100" is 7
            + [.echo(false), .hangUp, .setRegister(1, 1)]  // 35 + 2 + 1 + 4 = 42
        #expect(throws: ATCommandError.tooLong(length: 42, limit: 40)) { try ATCommand(parts: forty) }
        let exactly40: [ATCommand.Part] = Array(repeating: .setRegister(10, 100), count: 5) + [.echo(false), .quiet(false), .hangUp]
        #expect(try ATCommand(parts: exactly40).body.utf8.count == 40)
    }

    @Test("custom terminator")
    func terminator() {
        #expect(ATCommand(.hangUp).encoded(terminator: 10) == bytes("ATH\n"))
    }

    @Test("init strings are accepted with or without AT", arguments: [
        ("ATE0 Q0 V1 X4 &C1 &D2", "E0 Q0 V1 X4 &C1 &D2"),
        ("E0V1", "E0V1"),
        ("at&f", "&f"),
        ("At E1", "E1"),
        ("  ATZ  ", "Z"),
        ("AT", ""),
        ("", ""),
        ("ATQ0 V1 E1 S0=0 &C1 &D2 +FCLASS=0", "Q0 V1 E1 S0=0 &C1 &D2 +FCLASS=0"),
        ("AT S7=45 S0=0 L1 V1 X4 &c1 E1 Q0", "S7=45 S0=0 L1 V1 X4 &c1 E1 Q0"),
        ("AT+CGDCONT=1,\"IP\",\"data.at.example\"", "+CGDCONT=1,\"IP\",\"data.at.example\""),
        ("ATD*99#", "D*99#"),
        ("AT+GCAP;+GMI", "+GCAP;+GMI"),
    ])
    func initStrings(line: String, body: String) throws {
        let command = try ATCommand(line: line)
        #expect(command.body == body)
        #expect(command.encoded() == bytes("AT" + body + "\r"))
    }

    @Test("bad init strings are refused", arguments: [
        ("ATZ\r", ATCommandError.controlCharacter(code: 13, position: 4)),
        ("ATZ\nATH", .controlCharacter(code: 10, position: 4)),
        ("ATE0\u{1B}", .controlCharacter(code: 0x1B, position: 5)),
        ("AT\u{0}", .controlCharacter(code: 0, position: 3)),
        ("ATE0\tV1", .controlCharacter(code: 9, position: 5)),
        ("ATé", .nonASCII("é", position: 3)),
        ("ATE0ATZ", .embeddedAT(position: 5)),
        ("ATE0 at Z", .embeddedAT(position: 6)),
        ("E0 A T", .embeddedAT(position: 4)),
        ("ATAT", .embeddedAT(position: 3)),
        ("AT+++", .escapeSequence(position: 3)),
        ("+++ATH", .escapeSequence(position: 1)),
        ("AT+CGDCONT=1,\"+++\"", .escapeSequence(position: 15)),
        ("AT+CGDCONT=1,\"IP", .unbalancedQuote(position: 14)),
        ("AT" + String(repeating: "E0", count: 20) + "V", .tooLong(length: 41, limit: 40)),
    ])
    func badInitStrings(line: String, expected: ATCommandError) {
        #expect(throws: expected) { try ATCommand(line: line) }
    }

    @Test("init strings that only configure the modem are accepted", arguments: [
        "ATZ", "AT&F", "E0V1", "ATE0 Q0 V1 X4 &C1 &D2 S0=0", "ATE0Q0V1X4&C1&D2S0=0+FCLASS=0",
        "ATS7=60", "AT&D2", "at&d2", "AT\\N3", "AT%C", "AT%C1\\Q3&K3", "ATX4", "ATH", "ATH0", "ATS0=0",
        "ATT", "ATP", "ATM1L2", "AT S7=45 S0=0 L1 V1 X4 &c1 E1 Q0", "ATS7?", "ATS27.4=1",
        "AT+FCLASS=0;E0", "AT+FCLASS=?", "AT+FCLASS=2.0", "AT+MS=V34,1,2400,33600", "AT#CID=1",
        "AT+CGDCONT=1,\"IP\",\"ATDT5551234\"", "AT+CGDCONT=1,\"IP\",\"data;D1\"", "AT&Z0=5551234",
    ])
    func safeInitStrings(line: String) throws {
        #expect(try ATCommand(initString: line) == ATCommand(line: line))
    }

    @Test("init strings that dial, answer, go online or off-hook are refused", arguments: [
        ("ATDT19005551234", ATCommandError.notAllowedInInitString(command: "D", position: 3, action: .dials)),
        ("atdt5551234", .notAllowedInInitString(command: "D", position: 3, action: .dials)),
        ("ATD", .notAllowedInInitString(command: "D", position: 3, action: .dials)),
        ("DT5551234", .notAllowedInInitString(command: "D", position: 1, action: .dials)),
        ("AT D T 555", .notAllowedInInitString(command: "D", position: 4, action: .dials)),
        ("ATE0DT5551234", .notAllowedInInitString(command: "D", position: 5, action: .dials)),
        ("AT&D2D5551234", .notAllowedInInitString(command: "D", position: 6, action: .dials)),
        ("ATS7=60DT1", .notAllowedInInitString(command: "D", position: 8, action: .dials)),
        ("AT+FCLASS=0;DT5551234", .notAllowedInInitString(command: "D", position: 13, action: .dials)),
        ("ATE0;;D1", .notAllowedInInitString(command: "D", position: 7, action: .dials)),
        ("ATA", .notAllowedInInitString(command: "A", position: 3, action: .answers)),
        ("ATE0 A", .notAllowedInInitString(command: "A", position: 6, action: .answers)),
        ("ATO", .notAllowedInInitString(command: "O", position: 3, action: .goesOnline)),
        ("ATE0O1", .notAllowedInInitString(command: "O1", position: 5, action: .goesOnline)),
        ("ATH1", .notAllowedInInitString(command: "H1", position: 3, action: .goesOffHook)),
        ("ATE0 H 2", .notAllowedInInitString(command: "H2", position: 6, action: .goesOffHook)),
        ("ATS0=1", .notAllowedInInitString(command: "S0=1", position: 3, action: .answersAutomatically)),
        ("AT+FCLASS=0D5551234", .nonNumericArgument(command: "+FCLASS", argument: "0D5551234", position: 11)),
        ("ATS=1", .missingRegisterNumber(position: 3)),
        ("AT=1", .unexpectedCharacter("=", position: 3)),
        ("ATE0 ,", .unexpectedCharacter(",", position: 6)),
        ("AT&", .unexpectedCharacter("&", position: 3)),
        ("AT+++", .escapeSequence(position: 3)),
        ("ATZ\rATDT1", .controlCharacter(code: 13, position: 4)),
        ("ATE0\nATD1", .controlCharacter(code: 10, position: 5)),
    ])
    func unsafeInitStrings(line: String, expected: ATCommandError) {
        #expect(throws: expected) { try ATCommand(initString: line) }
    }

    @Test("a command line is split into its commands")
    func commandLine() throws {
        let line = try ATCommandLine(line: "ATE0 &d2 \\N3 S7=60 S0? +FCLASS=0;")
        #expect(line.commands.map(\.description) == ["E0", "&D2", "\\N3", "S7=60", "S0?", "+FCLASS=0"])
        #expect(line.commands.map(\.kind) == [.basic, .basic, .basic, .sParameter, .sParameter, .extended])
        #expect(line.commands.map(\.position) == [3, 6, 10, 14, 20, 24])
        let dial = try ATCommandLine(line: "AT#CID=1;H0 DT555;")
        #expect(dial.commands.map(\.description) == ["#CID=1", "H0", "DT555;"])
        #expect(dial.commands.map(\.kind) == [.extended, .basic, .dial])
        #expect(dial.commands.map(\.position) == [3, 10, 13])
        let quoted = try ATCommandLine(line: "AT+CGDCONT=1,\"IP\",\"x;ATD1\";E1")
        #expect(quoted.commands.map(\.description) == ["+CGDCONT=1,\"IP\",\"x;ATD1\"", "E1"])
    }

    @Test("init-string refusals say what the command would do")
    func initStringMessages() {
        let dial = ATCommandError.notAllowedInInitString(command: "D", position: 3, action: .dials)
        #expect("\(dial)" == "the D command at position 3 dials; init strings may not dial, answer, go online or go off-hook")
        #expect("\(ATCommandError.notAllowedInInitString(command: "H1", position: 3, action: .goesOffHook))".contains("H1 command at position 3 goes off-hook"))
        #expect("\(ATCommandError.unexpectedCharacter("=", position: 3))".contains("'=' at position 3"))
    }

    @Test("the default init lines are valid init strings")
    func defaultInitIsSafe() throws {
        #expect(try ATCommand(initString: ModemSession.defaultInit.description) == ModemSession.defaultInit)
    }

    @Test("a 40-character body is accepted")
    func fortyCharacters() throws {
        let body = String(repeating: "E0", count: 20)
        #expect(try ATCommand(line: "AT" + body).body == body)
        #expect(try ATCommand(line: body).body == body)
    }

    @Test("the escape sequence is separate from command lines")
    func escape() {
        #expect(ATCommand.escapeSequence() == [43, 43, 43])
        #expect(ATCommand.escapeSequence(character: 42) == [42, 42, 42])
        #expect(ATCommand.escapeSequence(character: 128) == nil)
        #expect(ATCommand.escapeSequence(character: 255) == nil)
    }

    @Test("error messages are clear")
    func messages() {
        #expect("\(ATCommandError.controlCharacter(code: 13, position: 4))".contains("U+000D at position 4"))
        #expect("\(ATCommandError.tooLong(length: 41, limit: 40))".contains("at most 40"))
        #expect("\(ATCommandError.embeddedAT(position: 5))".contains("second 'AT' at position 5"))
        #expect("\(ATCommandError.mustEndLine(command: "Z"))".contains("'Z' must be the last"))
    }
}
