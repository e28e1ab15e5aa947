import FakeModem
import Testing

/// Calls from outside the bank and caller ID, on a virtual clock.
@Suite("Incoming calls and caller ID, on a virtual clock")
struct CallerIDTests {
    /// A modem rung 1 s after power-on by JOHN DOE at 5551234, a RING every second.
    static func rungModem(
        _ number: CallerID.Number = .number("5551234"), name: String? = "JOHN DOE", form: CallerIDForm? = nil,
        wrongChecksum: Bool = false, rings: Int = 10, registers: [Int: Int] = [:], hangUpAfter: Duration? = nil
    ) -> VirtualModem {
        let caller = CallerID(number: number, name: name, form: form, wrongChecksum: wrongChecksum)
        let call = ExternalCall(after: .seconds(1), caller: caller, hangUpAfter: hangUpAfter, rings: rings)
        return VirtualModem(ModemSettings(registers: registers, ringInterval: .seconds(1), calls: [call]))
    }

    /// Enables caller ID with `command`, then returns the output of the first RING, of
    /// what came between the first and the second RING (the second included), and of the
    /// third RING.
    static func rings(_ modem: inout VirtualModem, enabling command: String?) -> (String, String, String) {
        modem.type("ATE0\r")
        if let command { modem.type(command + "\r") }
        _ = modem.take()
        modem.wait(.seconds(1))
        let first = modem.take()
        modem.wait(.seconds(1))
        let between = modem.take()
        modem.wait(.seconds(1))
        return (first, between, modem.take())
    }

    @Test("Formatted caller ID comes between RING 1 and RING 2, by each family's command",
          arguments: ["AT+VCID=1", "AT#CID=1", "AT%CCID=1"])
    func formatted(command: String) {
        var modem = Self.rungModem()
        let (first, between, third) = Self.rings(&modem, enabling: command)
        #expect(first == "\r\nRING\r\n")
        #expect(between == "\r\nDATE = 0101\r\n\r\nTIME = 0000\r\n\r\nNMBR = 5551234\r\n\r\nNAME = JOHN DOE\r\n\r\nRING\r\n")
        #expect(third == "\r\nRING\r\n")
        #expect(modem.events.contains("incoming 5551234"))
        #expect(modem.events.contains("caller-id formatted 5551234"))
        #expect(modem.events.filter { $0.hasPrefix("ring ") } == ["ring 1", "ring 2", "ring 3"])
        #expect(modem.emulator.registers[1] == 3, "S1 counts the rings")
    }

    @Test("No caller ID without the enabling command, or after it is turned off again",
          arguments: [nil, "AT+VCID=1;+VCID=0", "AT#CID=2;#CID=0", "AT+CLIP=1;+CLIP=0"] as [String?])
    func disabled(command: String?) {
        var modem = Self.rungModem()
        let (first, between, _) = Self.rings(&modem, enabling: command)
        #expect(first == "\r\nRING\r\n")
        #expect(between == "\r\nRING\r\n")
        #expect(!modem.events.contains { $0.hasPrefix("caller-id") })
    }

    @Test("+CLIP=1: a +CLIP line after every RING")
    func clip() {
        var modem = Self.rungModem()
        let (first, between, third) = Self.rings(&modem, enabling: "AT+CLIP=1")
        let line = "\r\n+CLIP: \"5551234\",129,\"\",,\"JOHN DOE\",0\r\n"
        #expect(first == "\r\nRING\r\n" + line)
        #expect(between == "\r\nRING\r\n" + line)
        #expect(third == "\r\nRING\r\n" + line)
    }

    @Test("Private and unavailable callers: P and O in every form",
          arguments: [(CallerID.Number.private, "P", 1), (.unavailable, "O", 2)])
    func absentNumber(number: CallerID.Number, letter: String, validity: Int) throws {
        var formatted = Self.rungModem(number, name: nil)
        let (_, lines, _) = Self.rings(&formatted, enabling: "AT+VCID=1")
        #expect(lines.contains("\r\nNMBR = \(letter)\r\n\r\nNAME = \(letter)\r\n"), "\(lines)")
        #expect(formatted.events.contains("caller-id formatted \(letter)"))

        var clip = Self.rungModem(number, name: nil)
        let (ring, _, _) = Self.rings(&clip, enabling: "AT+CLIP=1")
        #expect(ring.hasSuffix("+CLIP: \"\",128,\"\",,\"\",\(validity)\r\n"), "\(ring)")

        var mdmf = Self.rungModem(number, name: nil)
        let (_, message, _) = Self.rings(&mdmf, enabling: "AT+VCID=2")
        let bytes = try #require(Self.message(in: message), "\(message)")
        let code = UInt8(ascii: letter.unicodeScalars.first ?? "P")
        // Date and time, then the number's absence (0x04) and the name's (0x08).
        #expect(Array(bytes.suffix(7).prefix(6)) == [0x04, 1, code, 0x08, 1, code])
        #expect(bytes.reduce(UInt8(0)) { $0 &+ $1 } == 0)
    }

    @Test("SDMF and MDMF: type, length, parameters and a checksum that sums to zero",
          arguments: [CallerIDForm.sdmf, .mdmf])
    func unformatted(form: CallerIDForm) throws {
        var modem = Self.rungModem(form: form)
        let (_, between, _) = Self.rings(&modem, enabling: "AT+VCID=2")
        let bytes = try #require(Self.message(in: between), "\(between)")
        #expect(bytes.reduce(UInt8(0)) { $0 &+ $1 } == 0, "checksum of \(bytes)")
        #expect(Int(bytes[1]) == bytes.count - 3, "length byte")
        let stamp = Array("01010000".utf8)
        if form == .sdmf {
            #expect(bytes[0] == 0x04)
            #expect(Array(bytes[2..<10]) == stamp)
            #expect(Array(bytes[10..<(bytes.count - 1)]) == Array("5551234".utf8))
        } else {
            #expect(bytes[0] == 0x80)
            let expected: [UInt8] = [0x01, 8] + stamp + [0x02, 7] + Array("5551234".utf8) + [0x07, 8] + Array("JOHN DOE".utf8)
            #expect(Array(bytes[2..<(bytes.count - 1)]) == expected)
        }
        #expect(modem.events.contains("caller-id \(form.rawValue) 5551234"))
    }

    @Test("A scenario can inject a wrong checksum")
    func wrongChecksum() throws {
        var modem = Self.rungModem(form: .mdmf, wrongChecksum: true)
        let (_, between, _) = Self.rings(&modem, enabling: "AT#CID=1")
        let bytes = try #require(Self.message(in: between), "\(between)")
        #expect(bytes.reduce(UInt8(0)) { $0 &+ $1 } == 1)
    }

    @Test("Caller ID commands answer their queries and tests; unknown values are ERROR")
    func queries() {
        var modem = VirtualModem()
        modem.type("ATE0\r")
        _ = modem.take()
        modem.type("AT+VCID?\r")
        #expect(modem.take() == "\r\n0\r\n\r\nOK\r\n")
        modem.type("AT+VCID=2\r")
        #expect(modem.take() == "\r\nOK\r\n")
        #expect(modem.emulator.callerIDMode == .unformatted)
        modem.type("AT#CID?\r")
        #expect(modem.take() == "\r\n2\r\n\r\nOK\r\n")
        modem.type("AT+CLIP=1\r")
        _ = modem.take()
        modem.type("AT+CLIP?\r")
        #expect(modem.take() == "\r\n+CLIP: 1,1\r\n\r\nOK\r\n")
        modem.type("AT%CCID=?\r")
        #expect(modem.take() == "\r\n(0-1)\r\n\r\nOK\r\n")
        modem.type("AT+VCID=7\r")
        #expect(modem.take() == "\r\nERROR\r\n")
        modem.type("ATZ\r")
        #expect(modem.emulator.callerIDMode == .off, "Z reloads the stored profile")
    }

    @Test("Nobody answers: the caller gives up after its rings")
    func callerGivesUp() {
        var modem = Self.rungModem(rings: 3)
        modem.wait(.seconds(10))
        #expect(modem.take() == String(repeating: "\r\nRING\r\n", count: 3))
        #expect(modem.events.filter { $0.hasPrefix("ring") }.suffix(2) == ["ring 3", "ring-stop"])
        #expect(!modem.emulator.isRinging)
    }

    @Test("ATA answers with the call's CONNECT; data loops back; the caller hangs up: NO CARRIER after S10")
    func answerAndCallerHangsUp() {
        var modem = Self.rungModem(hangUpAfter: .seconds(2))
        modem.type("ATE0\r")
        modem.wait(.seconds(1))
        _ = modem.take()
        modem.type("ATA\r")
        modem.wait(.milliseconds(200))
        #expect(modem.take() == "\r\nCONNECT 33600\r\n")
        modem.type("hello", after: .milliseconds(10))
        #expect(modem.take() == "hello")
        modem.wait(.seconds(2))
        modem.wait(.milliseconds(1400))
        #expect(modem.take() == "\r\nNO CARRIER\r\n")
        #expect(modem.emulator.mode == .command)
        let events = modem.events.filter { ["answer", "caller-hang-up", "carrier-lost", "on-hook remote"].contains($0) }
        #expect(events == ["answer", "caller-hang-up", "carrier-lost", "on-hook remote"])
    }

    @Test("A busy modem: the outside caller hears busy, nothing rings")
    func busyModem() {
        var modem = Self.rungModem()
        modem.type("ATE0H1\r")
        _ = modem.take()
        modem.wait(.seconds(3))
        #expect(modem.take() == "")
        #expect(modem.events.contains("incoming-busy 5551234"))
        #expect(!modem.events.contains { $0.hasPrefix("ring ") })
    }

    @Test("S0 auto-answers an outside call")
    func autoAnswer() {
        var modem = Self.rungModem(registers: [0: 2])
        modem.wait(.seconds(2))
        modem.wait(.milliseconds(200))
        #expect(modem.take() == "\r\nRING\r\n\r\nRING\r\n\r\nCONNECT 33600\r\n")
        #expect(modem.events.contains("answer auto"))
    }

    @Test("V0: RING is 2")
    func numericRing() {
        var modem = Self.rungModem()
        modem.type("ATE0V0\r")
        _ = modem.take()
        modem.wait(.seconds(1))
        #expect(modem.take() == "2\r")
    }

    @Test("AT&V lists the active profile, then OK")
    func profileListing() {
        var modem = VirtualModem()
        modem.type("ATE0\r")
        _ = modem.take()
        modem.type("AT&V\r")
        let listing = modem.take()
        #expect(listing.hasPrefix("\r\nACTIVE PROFILE:\r\nE0 L1 M1 Q0 V1 W0 X4 &C1 &D2"), "\(listing)")
        #expect(listing.contains("S07:050"))
        #expect(listing.hasSuffix("\r\nOK\r\n"))
    }

    /// The bytes of the `MESG = <hex>` line in `text`.
    static func message(in text: String) -> [UInt8]? {
        guard let start = text.range(of: "MESG = ") else { return nil }
        let hex = Array(text[start.upperBound...].prefix { $0.isHexDigit })
        guard hex.count % 2 == 0, !hex.isEmpty else { return nil }
        return stride(from: 0, to: hex.count, by: 2).compactMap { UInt8(String(hex[$0...$0 + 1]), radix: 16) }
    }
}
