/// Who is calling, as a modem reported it between two `RING`s.
///
/// Every field is optional: a line may deliver the number only, a name only, or only the
/// reason why the number is absent. Date and time are as the telephone exchange sent them
/// (no year, no time zone), each part `nil` when absent or out of range. Encoded as JSON
/// with the stable keys `number`, `name`, `month`, `day`, `hour`, `minute`, `message`,
/// `numberAbsence`, `nameAbsence` and `form`; absent fields are left out.
public struct CallerID: Sendable, Hashable, Codable {
    /// Why the exchange sent no number (or no name).
    public enum AbsenceReason: String, Sendable, Hashable, Codable, CaseIterable {
        /// Withheld by the caller: `P` (Bellcore "private"), `+CLIP` CLI validity 1.
        case `private`
        /// Not available (out of area, interworking, payphone): `O`, CLI validity 2-4.
        case unavailable
    }

    /// The form the caller ID arrived in (the first line that contributed to it).
    public enum Form: String, Sendable, Hashable, Codable, CaseIterable {
        /// `DATE = …`, `TIME = …`, `NMBR = …`, `NAME = …` lines (Rockwell `#CID=1`, USR and
        /// V.253 `+VCID=1`, Lucent `%CCID=1`).
        case formatted
        /// 3GPP TS 27.007 `+CLIP: "<number>",<type>,…` (or `+CNAP:`).
        case clip
        /// Formatted fields behind a `+VRID:`/`+VCID:` prefix.
        case vrid
        /// An unformatted Bellcore single data message (type 0x04), as hex.
        case sdmf
        /// An unformatted Bellcore multiple data message (type 0x80), as hex.
        case mdmf
    }

    /// The caller's number as sent (digits, perhaps `+` for an international `+CLIP`).
    public var number: String?
    /// The caller's listed name.
    public var name: String?
    /// Month of the call, 1-12.
    public var month: Int?
    /// Day of the month, 1-31.
    public var day: Int?
    /// Hour, 0-23.
    public var hour: Int?
    /// Minute, 0-59.
    public var minute: Int?
    /// Other text: a `MESG = …` the parser could not decode, kept as received.
    public var message: String?
    /// Why the number is absent (`NMBR = P` / `O`).
    public var numberAbsence: AbsenceReason?
    /// Why the name is absent (`NAME = P` / `O`).
    public var nameAbsence: AbsenceReason?
    /// The form it arrived in.
    public var form: Form

    /// A caller ID; every field but the form defaults to absent.
    public init(
        number: String? = nil, name: String? = nil, month: Int? = nil, day: Int? = nil, hour: Int? = nil,
        minute: Int? = nil, message: String? = nil, numberAbsence: AbsenceReason? = nil,
        nameAbsence: AbsenceReason? = nil, form: Form
    ) {
        self.number = number
        self.name = name
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.message = message
        self.numberAbsence = numberAbsence
        self.nameAbsence = nameAbsence
        self.form = form
    }

    /// Whether the number was withheld by the caller.
    public var isPrivate: Bool { numberAbsence == .private }

    private enum CodingKeys: String, CodingKey {
        case number, name, month, day, hour, minute, message, numberAbsence, nameAbsence, form
    }
}
