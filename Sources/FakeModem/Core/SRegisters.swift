/// The S-registers of an emulated modem, with the defaults of a typical Hayes-compatible
/// modem (V.250 and the Conexant/USR manuals).
public struct SRegisters: Sendable, Equatable {
    /// The registers the emulator knows and their factory values. Any other register
    /// number answers `ERROR`.
    public static let factoryDefaults: [Int: Int] = [
        0: 0,    // rings before auto-answer, 0 = off
        1: 0,    // ring count
        2: 43,   // escape character `+`; > 127 disables the escape
        3: 13,   // command line terminator (CR)
        4: 10,   // response formatting character (LF)
        5: 8,    // backspace
        6: 2,    // seconds to wait for dial tone
        7: 50,   // seconds to wait for carrier
        8: 2,    // seconds per `,` in a dial string
        9: 6,    // carrier detect time, 1/10 s
        10: 14,  // carrier loss before hang-up, 1/10 s; 255 = never
        11: 95,  // DTMF tone duration, ms
        12: 50,  // escape guard time, 1/50 s
        25: 5,   // DTR drops shorter than this are ignored, 1/100 s
    ]

    /// Whether the emulator has register `number`.
    public static func isKnown(_ number: Int) -> Bool { factoryDefaults[number] != nil }

    private var values: [Int: Int]

    /// Factory defaults with `overrides` on top (unknown registers and values outside
    /// 0…255 in `overrides` are ignored; the scenario parser rejects them earlier).
    public init(overrides: [Int: Int] = [:]) {
        values = SRegisters.factoryDefaults
        for (number, value) in overrides where SRegisters.isKnown(number) && (0...255).contains(value) {
            values[number] = value
        }
    }

    /// The value of register `number` (0 for an unknown register).
    public subscript(number: Int) -> Int { values[number] ?? 0 }

    /// Sets a register; `false` if the register is unknown or the value is not 0…255.
    @discardableResult
    public mutating func set(_ number: Int, to value: Int) -> Bool {
        guard SRegisters.isKnown(number), (0...255).contains(value) else { return false }
        values[number] = value
        return true
    }

    /// `S12`: the escape guard time (S12 fiftieths of a second).
    public var guardTime: Duration { .milliseconds(self[12] * 20) }
    /// `S7`: how long to wait for carrier.
    public var carrierWait: Duration { .seconds(self[7]) }
    /// `S8`: the pause for each `,` in a dial string.
    public var commaPause: Duration { .seconds(self[8]) }
    /// `S10`: how long carrier may be gone before the modem hangs up; `nil` for 255 (never).
    public var carrierLossDelay: Duration? { self[10] == 255 ? nil : .milliseconds(self[10] * 100) }
    /// `S25`: the shortest DTR drop the modem acts on.
    public var dtrDebounce: Duration { .milliseconds(self[25] * 10) }
}
