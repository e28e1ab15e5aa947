import Foundation
import Testing
import RAS

@Suite("Dial parameters")
struct DialParametersTests {
    @Test func entryNames() {
        #expect(RasDialParameters.entry("Work").entryName == "Work")
        #expect(RasDialParameters.entry("Work", phoneNumber: "123").entryName == "Work")
        #expect(RasDialParameters.number("5551234").entryName == ".5551234")
        #expect(RasDialParameters.entrylessName(for: "0,5551234") == ".0,5551234")
    }

    @Test func validation() throws {
        try RasDialParameters.entry("Work").validate()
        try RasDialParameters.number("5551234", device: "/dev/ttyUSB0").validate()
        #expect(throws: RasError.invalidName) { try RasDialParameters.entry(".5551234").validate() }
        #expect(throws: RasError.invalidName) { try RasDialParameters.entry("a:b").validate() }
        #expect(throws: RasError.invalidParameter) { try RasDialParameters.number("  ").validate() }
    }

    @Test func codableShapes() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let entry = RasDialParameters.entry("Work", phonebookPath: "/p.pbk", phoneNumber: "999")
        #expect(String(decoding: try encoder.encode(entry), as: UTF8.self)
            == #"{"entryName":"Work","phoneNumber":"999","phonebookPath":"\/p.pbk"}"#)
        let call = RasDialParameters.number("5551234", device: "/dev/ttyACM0")
        #expect(String(decoding: try encoder.encode(call), as: UTF8.self)
            == #"{"device":"\/dev\/ttyACM0","phoneNumber":"5551234"}"#)
        for value in [entry, call, .entry("Home"), .number("1")] {
            #expect(try JSONDecoder().decode(RasDialParameters.self, from: encoder.encode(value)) == value)
        }
        let emptyName = #"{"entryName":"","phoneNumber":"42"}"#
        #expect(try JSONDecoder().decode(RasDialParameters.self, from: Data(emptyName.utf8)) == .number("42"))
    }

    @Test func defaultSettings() {
        let settings = RasDialSettings(phoneNumber: "5551234")
        #expect(settings.dialCommand == "ATDT5551234")
        #expect(settings.initStrings == ["ATE0 Q0 V1 X4 &C1 &D2 S0=0"])
        #expect(settings.dialTimeout == .seconds(60))
        #expect(settings.initTimeout == .seconds(5))
        #expect(settings.redialAttempts == 0)
        #expect(settings.redialPause == .seconds(60))
        #expect(settings.hangUpGuard == nil)
        #expect(settings.idleDisconnect == nil)
        #expect(settings.hwFlowControl == false)
        #expect(settings.connectBPS == nil)
    }

    @Test func settingsFromEntry() throws {
        let entry = try PhonebookEntry(name: "Work", settings: [
            "Port": "/dev/ttyUSB0", "Device": "USR", "ConnectBPS": "57600", "HwFlowControl": "1",
            "PhoneNumber": "5551234", "AreaCode": "06", "CountryCode": "39", "UseDialingRules": "1",
            "InitString": "ATZ", "InitString": "ATE0 X3", "DialPrefix": "ATDP", "DialTimeoutSeconds": "90",
            "InitTimeoutSeconds": "3", "RedialAttempts": "2", "RedialSeconds": "15",
            "IdleDisconnectSeconds": "600", "HangUpGuardMilliseconds": "1500",
        ])
        let settings = try RasDialSettings(entry: entry)
        #expect(settings.phoneNumber == "0039065551234")
        #expect(settings.dialCommand == "ATDP0039065551234")
        #expect(settings.port == "/dev/ttyUSB0")
        #expect(settings.device == "USR")
        #expect(settings.connectBPS == 57600)
        #expect(settings.hwFlowControl)
        #expect(settings.initStrings == ["ATZ", "ATE0 X3"])
        #expect(settings.dialTimeout == .seconds(90))
        #expect(settings.initTimeout == .seconds(3))
        #expect(settings.redialAttempts == 2)
        #expect(settings.redialPause == .seconds(15))
        #expect(settings.idleDisconnect == .seconds(600))
        #expect(settings.hangUpGuard == .milliseconds(1500))
        #expect(try RasDialSettings(entry: entry, phoneNumberOverride: "777").phoneNumber == "777",
                "an override is dialed as is")
        #expect(try RasDialSettings(entry: entry, phoneNumberOverride: "").phoneNumber == "0039065551234",
                "an empty override means the entry's number")
    }

    @Test("idle disconnect 0 and 4294967295 mean never", arguments: ["0", "4294967295"])
    func idleNever(value: String) throws {
        let entry = try PhonebookEntry(name: "A", settings: ["PhoneNumber": "1", "IdleDisconnectSeconds": value])
        #expect(try RasDialSettings(entry: entry).idleDisconnect == nil)
    }

    @Test func entryWithoutNumberGives749() throws {
        let entry = try PhonebookEntry(name: "A", settings: ["Port": "/dev/ttyS0"])
        #expect(throws: RasError.badPhoneNumber) { try RasDialSettings(entry: entry) }
        #expect(try RasDialSettings(entry: entry, phoneNumberOverride: "5").phoneNumber == "5")
    }

    @Test func resolveEntryAndEntryless() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let system = try dir.write("etc/rasphone.pbk", "[Work]\nPort=/dev/ttyS1\nPhoneNumber=5551234\nRedialAttempts=1\n")
        let searchPath = PhonebookSearchPath(environment: [:], systemPhonebookPath: system)

        let plan = try RasDialParameters.entry("WORK").resolve(searchPath: searchPath)
        #expect(plan.entryName == "Work", "the phonebook's spelling")
        #expect(plan.phonebookPath == system)
        #expect(plan.settings.port == "/dev/ttyS1")
        #expect(plan.settings.phoneNumber == "5551234")
        #expect(plan.settings.redialAttempts == 1)

        let byPath = try RasDialParameters.number("42", device: "/dev/ttyACM0").resolve(searchPath: searchPath)
        #expect(byPath.entryName == ".42")
        #expect(byPath.phonebookPath == nil)
        #expect(byPath.settings.port == "/dev/ttyACM0")
        #expect(byPath.settings.device == nil)
        let byName = try RasDialParameters.number("42", device: "USR Courier").resolve(searchPath: searchPath)
        #expect(byName.settings.device == "USR Courier")
        #expect(byName.settings.port == nil)

        #expect(throws: RasError.cannotFindPhonebookEntry) {
            try RasDialParameters.entry("Home").resolve(searchPath: searchPath)
        }
        #expect(throws: RasError.invalidName) { try RasDialParameters.entry("a|b").resolve(searchPath: searchPath) }
        #expect(throws: RasError.cannotOpenPhonebook) {
            try RasDialParameters.entry("Work", phonebookPath: dir.file("none.pbk")).resolve(searchPath: searchPath)
        }
    }
}
