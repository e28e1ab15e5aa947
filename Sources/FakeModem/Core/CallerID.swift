/// How a modem presents caller ID, as its family's enabling command set it.
public enum CallerIDMode: String, Sendable, Equatable, CaseIterable {
    /// Caller ID off (the power-on state).
    case off
    /// `DATE = MMDD`, `TIME = HHMM`, `NMBR = …`, `NAME = …` lines (`+VCID=1`, `#CID=1`,
    /// `%CCID=1`).
    case formatted
    /// The message as hex digits, `MESG = 80…` (`+VCID=2`, `#CID=2`).
    case unformatted
    /// `+CLIP: "number",type` after each `RING` (`+CLIP=1`, 3GPP TS 27.007).
    case clip
}

/// The form in which a call's caller ID is reported.
public enum CallerIDForm: String, Sendable, Equatable, CaseIterable {
    /// `DATE`/`TIME`/`NMBR`/`NAME` lines.
    case formatted
    /// `+CLIP: …` after each `RING`.
    case clip
    /// A single-data-message (type 0x04) as hex: date, time and number.
    case sdmf
    /// A multiple-data-message (type 0x80) as hex: date/time, number or why it is absent,
    /// name or why it is absent.
    case mdmf
    /// The line carries no caller ID.
    case none
}

/// Who is calling, as the exchange delivers it.
public struct CallerID: Sendable, Equatable {
    /// The calling number, or why it is absent.
    public enum Number: Sendable, Equatable {
        /// The number.
        case number(String)
        /// Withheld by the caller (`P`).
        case `private`
        /// Not available from the network (`O`, "out of area").
        case unavailable
    }

    /// The calling number.
    public var number: Number
    /// The caller's name, if the network delivers one.
    public var name: String?
    /// The form to report; `nil` follows the modem's ``CallerIDMode`` (MDMF for
    /// unformatted).
    public var form: CallerIDForm?
    /// The unformatted message carries a wrong checksum (for parser tests).
    public var wrongChecksum: Bool

    /// A caller.
    public init(number: Number, name: String? = nil, form: CallerIDForm? = nil, wrongChecksum: Bool = false) {
        self.number = number
        self.name = name
        self.form = form
        self.wrongChecksum = wrongChecksum
    }

    /// Whether the number is withheld or unavailable.
    var isNumberAbsent: Bool {
        if case .number = number { return false }
        return true
    }

    /// The number as transcripts show it: the digits, `P` or `O`.
    public var numberText: String {
        switch number {
        case .number(let digits): digits
        case .private: "P"
        case .unavailable: "O"
        }
    }

    /// The form actually reported by a modem in `mode`; `nil` when nothing is reported.
    public func reportedForm(mode: CallerIDMode) -> CallerIDForm? {
        if mode == .off || form == CallerIDForm.none { return nil }
        if let form { return form }
        switch mode {
        case .off: return nil
        case .formatted: return .formatted
        case .unformatted: return .mdmf
        case .clip: return .clip
        }
    }
}

/// The month, day, hour and minute a caller ID message carries.
public struct CallerIDTime: Sendable, Equatable {
    /// 1…12.
    public var month: Int
    /// 1…31.
    public var day: Int
    /// 0…23.
    public var hour: Int
    /// 0…59.
    public var minute: Int

    /// A time stamp; each value is printed as its last two digits.
    public init(month: Int, day: Int, hour: Int, minute: Int) {
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
    }

    /// `MMDD`.
    var date: String { twoDigits(month) + twoDigits(day) }
    /// `HHMM`.
    var time: String { twoDigits(hour) + twoDigits(minute) }
}

private func twoDigits(_ value: Int) -> String {
    let clamped = max(0, value) % 100
    return clamped < 10 ? "0\(clamped)" : "\(clamped)"
}

/// Builds the caller ID a modem reports (Bellcore GR-30 SDMF/MDMF messages, the formatted
/// lines of Rockwell/Conexant modems, 3GPP `+CLIP`).
enum CallerIDReport {
    /// The formatted lines: `DATE`, `TIME`, `NMBR`, and `NAME` when there is one.
    static func formattedLines(_ caller: CallerID, at time: CallerIDTime) -> [String] {
        var lines = ["DATE = \(time.date)", "TIME = \(time.time)", "NMBR = \(caller.numberText)"]
        if let name = caller.name {
            lines.append("NAME = \(name)")
        } else if caller.isNumberAbsent {
            lines.append("NAME = \(caller.numberText)")
        }
        return lines
    }

    /// The `+CLIP:` line: number and type (145 international, 129 otherwise), the name
    /// when there is one, the CLI validity (1 withheld, 2 unavailable) when the number is
    /// absent.
    static func clipLine(_ caller: CallerID) -> String {
        switch caller.number {
        case .number(let digits):
            let type = digits.hasPrefix("+") ? 145 : 129
            if let name = caller.name { return "+CLIP: \"\(digits)\",\(type),\"\",,\"\(name)\",0" }
            return "+CLIP: \"\(digits)\",\(type)"
        case .private:
            return "+CLIP: \"\",128,\"\",,\"\",1"
        case .unavailable:
            return "+CLIP: \"\",128,\"\",,\"\",2"
        }
    }

    /// The whole message: type, length, body, checksum (the two's complement of the sum
    /// of the other bytes, so that all bytes sum to 0 modulo 256; one more when
    /// ``CallerID/wrongChecksum``).
    static func message(_ caller: CallerID, form: CallerIDForm, at time: CallerIDTime) -> [UInt8] {
        let stamp = Array((time.date + time.time).utf8)
        let type: UInt8
        var body: [UInt8] = []
        if form == .sdmf {
            type = 0x04
            body = stamp + Array(caller.numberText.utf8)
        } else {
            type = 0x80
            body += parameter(0x01, stamp)
            switch caller.number {
            case .number(let digits): body += parameter(0x02, Array(digits.utf8))
            case .private, .unavailable: body += parameter(0x04, Array(caller.numberText.utf8))
            }
            if let name = caller.name {
                body += parameter(0x07, Array(name.utf8))
            } else if caller.isNumberAbsent {
                body += parameter(0x08, Array(caller.numberText.utf8))
            }
        }
        var bytes = [type, UInt8(truncatingIfNeeded: body.count)] + body
        let sum = bytes.reduce(UInt8(0)) { $0 &+ $1 }
        bytes.append((0 &- sum) &+ (caller.wrongChecksum ? 1 : 0))
        return bytes
    }

    /// A parameter of an MDMF message: type, length (at most 255 bytes), value.
    private static func parameter(_ type: UInt8, _ value: [UInt8]) -> [UInt8] {
        let value = Array(value.prefix(255))
        return [type, UInt8(value.count)] + value
    }

    /// Upper-case hex digits, two per byte.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF")
        var text = ""
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }
}
