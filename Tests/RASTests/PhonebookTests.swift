import Foundation
import Testing
import RAS

/// A Windows-style phonebook: comments, unknown keys, repeated keys, a link block.
let windowsStyle = """
    ; rasphone.pbk written by hand
    # second comment style

    [Work]
    Encoding=1
    Type=1
    RedialAttempts=3
    RedialSeconds=30
    IdleDisconnectSeconds=0
    SomethingNew=keep me

    MEDIA=serial
    Port=/dev/serial/by-id/usb-USR_56K-if00
    Device=US Robotics 56K
    ConnectBPS=115200

    DEVICE=modem
    PhoneNumber=5551234
    PhoneNumber=5559876
    AreaCode=06
    CountryCode=39
    UseDialingRules=0
    HwFlowControl=1
    InitString=ATZ
    InitString=ATE0 Q0 V1 X4 &C1 &D2
    ; alternates above

    [Home ISP]
    MEDIA=serial
    Port=/dev/ttyS0
    DEVICE=modem
      PhoneNumber = 0800 123 456  \n
    """.replacingOccurrences(of: "\\n", with: "")

@Suite("Phonebook")
struct PhonebookTests {
    @Test func parsesEntriesAndTypedValues() throws {
        let phonebook = try Phonebook(text: windowsStyle)
        #expect(phonebook.entryNames == ["Work", "Home ISP"])
        #expect(phonebook.leadingLines.count == 3)
        let work = try phonebook.entry(named: "Work")
        #expect(work.phoneNumber == "5551234")
        #expect(work.phoneNumbers == ["5551234", "5559876"])
        #expect(work.areaCode == "06")
        #expect(work.countryCode == 39)
        #expect(work.useCountryAndAreaCodes == false)
        #expect(work.port == "/dev/serial/by-id/usb-USR_56K-if00")
        #expect(work.device == "US Robotics 56K")
        #expect(work.deviceType == "modem")
        #expect(work.media == "serial")
        #expect(work.connectBPS == 115200)
        #expect(work.hwFlowControl == true)
        #expect(work.redialAttempts == 3)
        #expect(work.redialSeconds == 30)
        #expect(work.idleDisconnectSeconds == 0)
        #expect(work.initStrings == ["ATZ", "ATE0 Q0 V1 X4 &C1 &D2"])
        #expect(work.dialPrefix == nil)
        #expect(work.value(for: "SomethingNew") == "keep me")
        #expect(work.value(for: "somethingnew") == "keep me", "keys ignore case")
        #expect(work.values(for: "Type") == ["1"])
        let home = try phonebook.entry(named: "Home ISP")
        #expect(home.phoneNumber == "0800 123 456", "spaces around key and value are trimmed")
        #expect(home.device == nil, "DEVICE=modem is not the modem's name")
    }

    @Test func deviceKeyCapitalsRule() {
        #expect(PhonebookKey("Device") == PhonebookKey("device"))
        #expect(PhonebookKey("DEVICE") != PhonebookKey("Device"))
        #expect(PhonebookKey("DEVICE") != PhonebookKey("device"))
        #expect(PhonebookKey("DEVICE") == PhonebookKey.deviceType)
        #expect(PhonebookKey("phonenumber") == .phoneNumber)
        #expect(PhonebookKey("ConnectBps").isNumeric)
        #expect(!PhonebookKey.phoneNumber.isNumeric)
    }

    @Test("byte-exact round trip", arguments: [false, true])
    func roundTripIsByteExact(crlf: Bool) throws {
        var text = windowsStyle
        if crlf { text = text.replacingOccurrences(of: "\n", with: "\r\n") }
        let bytes = Data([0xEF, 0xBB, 0xBF]) + Data(text.utf8)
        let phonebook = try Phonebook(data: bytes)
        #expect(phonebook.hasByteOrderMark)
        #expect(phonebook.lineEnding == (crlf ? .crlf : .lf))
        #expect(phonebook.data == bytes)
        #expect(try Phonebook(data: phonebook.data) == phonebook)
    }

    @Test func fileWithoutFinalNewlineGainsOne() throws {
        let phonebook = try Phonebook(text: "[A]\nPhoneNumber=1")
        #expect(phonebook.text == "[A]\nPhoneNumber=1\n")
    }

    @Test func writeReadIsIdenticalAndKeepsEverything() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("rasphone.pbk", windowsStyle)
        let first = try Phonebook.load(from: path)
        let copy = dir.file("copy/rasphone.pbk")
        try first.write(to: copy)
        let second = try Phonebook.load(from: copy)
        #expect(second == first)
        #expect(try String(contentsOfFile: copy, encoding: .utf8) == windowsStyle)
    }

    @Test func editingChangesOnlyTheEditedLines() throws {
        var phonebook = try Phonebook(text: windowsStyle)
        var work = try phonebook.entry(named: "work")
        try work.set(.phoneNumber, "5550000")
        try work.set(.redialAttempts, 5)
        try work.set(.dialPrefix, "ATDP")
        try work.set(.hwFlowControl, false)
        try phonebook.update(work)
        let expected = windowsStyle
            .replacingOccurrences(of: "PhoneNumber=5551234", with: "PhoneNumber=5550000")
            .replacingOccurrences(of: "RedialAttempts=3", with: "RedialAttempts=5")
            .replacingOccurrences(of: "HwFlowControl=1", with: "HwFlowControl=0")
            .replacingOccurrences(of: "InitString=ATE0 Q0 V1 X4 &C1 &D2\n",
                                  with: "InitString=ATE0 Q0 V1 X4 &C1 &D2\nDialPrefix=ATDP\n")
        #expect(phonebook.text == expected)
        let reread = try Phonebook(text: phonebook.text).entry(named: "Work")
        #expect(reread.phoneNumbers == ["5550000", "5559876"], "the alternate stays")
        #expect(reread.dialPrefix == "ATDP")
    }

    @Test func appendAndRemoveKeys() throws {
        var entry = try PhonebookEntry(name: "X", settings: ["PhoneNumber": "1", "Comment": "hi"])
        try entry.append(.phoneNumber, "2")
        #expect(entry.phoneNumbers == ["1", "2"])
        entry.remove(.phoneNumber)
        #expect(entry.phoneNumbers.isEmpty)
        #expect(entry.value(for: "Comment") == "hi")
        try entry.set(.port, "/dev/ttyUSB0")
        #expect(entry.lines.map(\.text) == ["Comment=hi", "Port=/dev/ttyUSB0"])
    }

    @Test("bad values are refused with 87", arguments: [
        (PhonebookKey.redialAttempts, "three"), (.connectBPS, "-1"), (.redialSeconds, "4294967296"),
        (.phoneNumber, "555\n[Evil]"), (.dialPrefix, "DT"), (.initString, "E0"), (.internationalPrefix, "+"),
        (PhonebookKey(""), "1"), (PhonebookKey("A=B"), "1"), (PhonebookKey("[X"), "1"), (PhonebookKey(" K"), "1"),
    ])
    func badValues(key: PhonebookKey, value: String) throws {
        var entry = try PhonebookEntry(name: "X")
        #expect(throws: RasError.invalidParameter) { try entry.set(key, value) }
        #expect(throws: RasError.invalidParameter) { try entry.append(key, value) }
        #expect(entry.lines.isEmpty)
    }

    @Test func negativeIntIsRefused() throws {
        var entry = try PhonebookEntry(name: "X")
        #expect(throws: RasError.invalidParameter) { try entry.set(.redialAttempts, -1) }
        try entry.set(.idleDisconnectSeconds, Int(UInt32.max))
        #expect(entry.idleDisconnectSeconds == 4_294_967_295)
    }

    @Test func addUpdateRemoveEntries() throws {
        var phonebook = try Phonebook(text: windowsStyle)
        let isp = try PhonebookEntry(name: "Backup", settings: ["PhoneNumber": "5551111", "DEVICE": "modem"])
        try phonebook.add(isp)
        #expect(phonebook.entryNames == ["Work", "Home ISP", "Backup"])
        #expect(phonebook.text.hasSuffix("PhoneNumber = 0800 123 456  \n\n[Backup]\nPhoneNumber=5551111\nDEVICE=modem\n"))
        #expect(throws: RasError.alreadyExists) { try phonebook.add(PhonebookEntry(name: "BACKUP")) }

        try phonebook.remove(entryNamed: "home isp")
        #expect(phonebook.entryNames == ["Work", "Backup"])
        #expect(throws: RasError.cannotFindPhonebookEntry) { try phonebook.remove(entryNamed: "Home ISP") }
        #expect(throws: RasError.cannotFindPhonebookEntry) { try phonebook.update(PhonebookEntry(name: "Nope")) }

        var renamed = try phonebook.entry(named: "backup")
        renamed = try PhonebookEntry(name: "BACKUP", settings: ["PhoneNumber": "5552222"])
        try phonebook.update(renamed)
        #expect(phonebook.entryNames == ["Work", "BACKUP"])
        #expect(phonebook.text.hasSuffix("[BACKUP]\nPhoneNumber=5552222\n"))
        #expect(try Phonebook(text: phonebook.text) == phonebook)
    }

    @Test func addToEmptyAndCommentOnlyPhonebooks() throws {
        var empty = Phonebook()
        try empty.add(PhonebookEntry(name: "A", settings: ["PhoneNumber": "1"]))
        #expect(empty.text == "[A]\nPhoneNumber=1\n")
        var commented = try Phonebook(text: "; only a comment\n")
        try commented.add(PhonebookEntry(name: "A"))
        #expect(commented.text == "; only a comment\n\n[A]\n")
    }

    @Test func lookupIgnoresCase() throws {
        let phonebook = try Phonebook(text: windowsStyle)
        #expect(try phonebook.entry(named: "HOME isp").name == "Home ISP")
        #expect(phonebook.contains(entryNamed: "wORK"))
        #expect(!phonebook.contains(entryNamed: "Wor"))
        #expect(throws: RasError.cannotFindPhonebookEntry) { try phonebook.entry(named: "Nowhere") }
        do {
            _ = try phonebook.entry(named: "Nowhere")
        } catch {
            #expect(error.detail?.contains("Nowhere") == true)
        }
    }

    @Test("corrupt files name the line", arguments: [
        ("[A]\nPhoneNumber=1\nthis is junk\n", 3, "expected '[Entry]', 'key=value' or a comment"),
        ("; header\nPort=/dev/ttyS0\n[A]\n", 2, "key 'Port' comes before the first [entry] section"),
        ("[A]\nPhoneNumber=1\n[B\nPhoneNumber=2\n", 3, "missing ']'"),
        ("[work]\nPhoneNumber=1\n\n[WORK]\n", 4, "duplicate entry 'WORK' (first defined on line 1)"),
        ("[A]\nRedialAttempts=three\n", 2, "'RedialAttempts' must be a number, not 'three'"),
        ("[A]\nConnectBPS=99999999999\n", 2, "'ConnectBPS' is too large"),
        ("[A]\nhwflowcontrol=yes\n", 2, "'hwflowcontrol' must be a number"),
        ("[]\n", 1, "empty entry name"),
        ("[A] trailing\n", 1, "unexpected text after ']'"),
        ("[A]\n=5551234\n", 2, "missing key before '='"),
        ("[A]\nDialPrefix=DT\n", 2, "entry 'A': 'DialPrefix' must start with ATD"),
        ("[Work]\nInitString=ATZ\nInitString=ATDT19005551234\n", 3,
         "entry 'Work': InitString 'ATDT19005551234': the D command at position 3 dials; init strings may not dial"),
        ("[Work]\nInitString=AT&D2;D5551234\n", 2, "entry 'Work': InitString 'AT&D2;D5551234': the D command at position 7 dials"),
        ("[Work]\nDialPrefix=ATDT;H\n", 2, "entry 'Work': DialPrefix 'ATDT;H': dial string has invalid character 'H' (U+0048) at position 6"),
        ("[Work]\nDialPrefix=ATDP9;\n", 2, "entry 'Work': DialPrefix 'ATDP9;': ';' at position 6 would end the dial before the number"),
        ("[Work]\nInitString=ATA\n", 2, "InitString 'ATA': the A command at position 3 answers a call"),
        ("[Work]\nInitString=ATH1\n", 2, "InitString 'ATH1': the H1 command at position 3 goes off-hook"),
        ("[Work]\nInitString=ATO\n", 2, "InitString 'ATO': the O command at position 3 goes online"),
        ("[A]\r\nPhoneNumber=1\r\nRedialSeconds=1.5\r\n", 3, "'RedialSeconds' must be a number"),
    ])
    func corruptFiles(text: String, line: Int, problem: String) throws {
        #expect(throws: RasError.corruptPhonebook) { try Phonebook(text: text, source: "/x/rasphone.pbk") }
        do {
            _ = try Phonebook(text: text, source: "/x/rasphone.pbk")
        } catch {
            let detail = try #require(error.detail)
            #expect(detail.hasPrefix("/x/rasphone.pbk, line \(line): "), "\(detail)")
            #expect(detail.contains(problem), "\(detail)")
        }
    }

    @Test("init strings that only configure the modem load; one that dials cannot be set")
    func initStrings() throws {
        let entry = try Phonebook(text: "[A]\nInitString=ATZ\nInitString=AT S7=60 &D2 \\N3 %C1 X4\nInitString=AT+FCLASS=0\n").entry(named: "A")
        #expect(entry.initStrings == ["ATZ", "AT S7=60 &D2 \\N3 %C1 X4", "AT+FCLASS=0"])
        var edited = entry
        #expect(throws: RasError.invalidParameter) { try edited.append(.initString, "ATDT19005551234") }
        #expect(throws: RasError.invalidParameter) { try edited.set(.initString, "ATE0;DT5551234") }
        #expect(edited == entry)
        // The default init string (entry-less dials, entries without InitString) passes the same check.
        #expect(try PhonebookEntry(name: "D", settings: ["InitString": RasDialSettings.defaultInitString]).initStrings
            == [RasDialSettings.defaultInitString])
    }

    @Test func emptyNumericValueMeansUnset() throws {
        let entry = try Phonebook(text: "[A]\nCountryCode=\nRedialAttempts=\nAreaCode=\n").entry(named: "A")
        #expect(entry.countryCode == nil)
        #expect(entry.redialAttempts == nil)
        #expect(entry.areaCode == nil)
    }

    @Test("undecodable files give 622", arguments: [
        ("UTF-16 LE with BOM", Data([0xFF, 0xFE]) + "[A]\n".data(using: .utf16LittleEndian)!, "UTF-16"),
        ("UTF-16 BE with BOM", Data([0xFE, 0xFF]) + "[A]\n".data(using: .utf16BigEndian)!, "UTF-16"),
        ("UTF-16 without BOM", "[A]\n".data(using: .utf16LittleEndian)!, "line 1 contains NUL"),
        ("Latin-1", Data("[A]\nComment=".utf8) + Data([0xE9]) + Data("\n".utf8), "line 2 is not valid UTF-8"),
    ])
    func undecodable(label: String, data: Data, problem: String) throws {
        #expect(throws: RasError.cannotLoadPhonebook, "\(label)") { try Phonebook(data: data, source: "/p.pbk") }
        do {
            _ = try Phonebook(data: data, source: "/p.pbk")
        } catch {
            #expect(error.detail?.contains(problem) == true, "\(String(describing: error.detail))")
            #expect(error.detail?.hasPrefix("/p.pbk: ") == true)
        }
    }

    @Test func utf16FileOnDiskGives622() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("utf16.pbk")
        try #require("[Work]\r\nPhoneNumber=1\r\n".data(using: .utf16)).write(to: URL(fileURLWithPath: path))
        #expect(throws: RasError.cannotLoadPhonebook) { try Phonebook.load(from: path) }
    }

    @Test func missingFileGives621NamingThePath() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("absent.pbk")
        #expect(throws: RasError.cannotOpenPhonebook) { try Phonebook.load(from: path) }
        do {
            _ = try Phonebook.load(from: path)
        } catch {
            #expect(error.detail?.contains(path) == true)
        }
        #expect(throws: RasError.cannotOpenPhonebook) { try Phonebook.load(from: dir.path) }
    }

    @Test func writeIsAtomicAndKeepsPermissions() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("rasphone.pbk", windowsStyle)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        try Phonebook.modify(at: path) { phonebook in
            try phonebook.remove(entryNamed: "Work")
        }
        #expect(try Phonebook.load(from: path).entryNames == ["Home ISP"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["rasphone.pbk"], "no temp file left")
    }

    @Test func modifyLeavesFileAloneWhenBodyThrows() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("rasphone.pbk", windowsStyle)
        #expect(throws: RasError.cannotFindPhonebookEntry) {
            try Phonebook.modify(at: path) { phonebook in
                try phonebook.remove(entryNamed: "Home ISP")
                try phonebook.remove(entryNamed: "Nope")
            }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == windowsStyle)
    }

    @Test func modifyCreatesMissingFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("new/swift-ras/rasphone.pbk")
        #expect(throws: RasError.cannotOpenPhonebook) {
            try Phonebook.modify(at: path) { _ in }
        }
        try Phonebook.modify(at: path, createIfMissing: true) { phonebook in
            try phonebook.add(PhonebookEntry(name: "Fresh", settings: ["PhoneNumber": "5551234"]))
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "[Fresh]\nPhoneNumber=5551234\n")
    }

    @Test func writeFailureGives621() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let blocker = try dir.write("file", "x")
        #expect(throws: RasError.cannotOpenPhonebook) { try Phonebook().write(to: blocker + "/rasphone.pbk") }
    }

    @Test("dialable number", arguments: [
        ("PhoneNumber=5551234", "5551234"),
        ("PhoneNumber=5551234\nAreaCode=06\nCountryCode=39", "5551234"),
        ("PhoneNumber=5551234\nAreaCode=06\nCountryCode=39\nUseDialingRules=1", "0039065551234"),
        ("PhoneNumber=5551234\nAreaCode=06\nCountryCode=39\nUseCountryAndAreaCodes=1", "0039065551234"),
        ("PhoneNumber=5551234\nAreaCode=212\nCountryCode=1\nUseDialingRules=1\nInternationalPrefix=011", "0111212" + "5551234"),
        ("PhoneNumber=5551234\nAreaCode=06\nCountryCode=0\nUseDialingRules=1", "065551234"),
        ("PhoneNumber=5551234\nUseDialingRules=1", "5551234"),
        ("AreaCode=06", nil),
    ])
    func dialableNumber(settings: String, expected: String?) throws {
        let entry = try Phonebook(text: "[A]\n" + settings + "\n").entry(named: "A")
        #expect(entry.dialableNumber == expected)
    }
}

@Suite("Entry names")
struct EntryNameTests {
    @Test("valid names", arguments: ["Work", "My ISP (backup)", "1", "Ünïcode 電話", "a.b", "x-y_z", "#1"])
    func valid(name: String) throws {
        try PhonebookEntry.validateName(name)
        #expect(PhonebookEntry.isValidName(name))
    }

    @Test("invalid names → 123", arguments: [
        ("", "letter or digit"), ("   ", "letter or digit"), ("--", "letter or digit"),
        ("a|b", "'|'"), ("a>b", "'>'"), ("a<b", "'<'"), ("a?b", "'?'"), ("a*b", "'*'"), ("a\\b", "'\\'"),
        ("a/b", "'/'"), ("a:b", "':'"), (".5551234", "start with '.'"), ("a\nb", "control"), ("a\tb", "control"),
        ("[a]", "'['"), (" a", "spaces"), ("a ", "spaces"), (String(repeating: "x", count: 257), "256"),
    ])
    func invalid(name: String, reason: String) throws {
        #expect(!PhonebookEntry.isValidName(name))
        #expect(throws: RasError.invalidName) { try PhonebookEntry.validateName(name) }
        #expect(throws: RasError.invalidName) { try PhonebookEntry(name: name) }
        do {
            try PhonebookEntry.validateName(name)
        } catch {
            #expect(error.detail?.contains(reason) == true, "\(String(describing: error.detail))")
        }
    }

    @Test func addingAnInvalidNameFails() throws {
        var phonebook = Phonebook()
        let loaded = try Phonebook(text: "[.odd]\n").entry(named: ".odd")
        #expect(throws: RasError.invalidName) { try phonebook.add(loaded) }
    }

    @Test func namesMatchIgnoringCase() {
        #expect(PhonebookEntry.namesMatch("Work", "WORK"))
        #expect(PhonebookEntry.namesMatch("Straße", "STRASSE") == false, "whole-name, simple case folding")
        #expect(!PhonebookEntry.namesMatch("Work", "Work "))
    }
}
