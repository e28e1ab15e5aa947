/// Byte-level helpers shared by the codecs. Everything here is ASCII only: modems speak
/// 7-bit ASCII, and treating other bytes as letters would let look-alikes slip through.
enum ASCII {
    static let nul: UInt8 = 0x00
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let slash: UInt8 = 0x2F
    static let semicolon: UInt8 = 0x3B
    static let upperA: UInt8 = 0x41
    static let upperT: UInt8 = 0x54
    static let delete: UInt8 = 0x7F

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool { isDigit(byte) || isLetter(byte) }

    /// Space or horizontal tab.
    static func isBlank(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    static func uppercased(_ byte: UInt8) -> UInt8 {
        byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte
    }

    /// The bytes with leading and trailing blanks removed.
    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, isBlank(first) { slice = slice.dropFirst() }
        while let last = slice.last, isBlank(last) { slice = slice.dropLast() }
        return slice
    }

    /// `U+000D` style name of a code point.
    static func codePoint(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    static func string(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Parses a leading decimal integer. A comma is taken as a thousands separator only
    /// when exactly three digits follow it (`33,600` is 33600, `28800,26400` is 28800).
    /// Returns the value (nil when it does not fit in an `Int` or there is no digit) and
    /// the rest of the input after the digits that were read.
    static func leadingInteger(_ bytes: ArraySlice<UInt8>) -> (value: Int?, rest: ArraySlice<UInt8>) {
        var digits: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if isDigit(byte) {
                digits.append(byte)
                index += 1
            } else if byte == comma, !digits.isEmpty, isThousandsGroup(bytes, after: index) {
                index += 1
            } else {
                break
            }
        }
        guard !digits.isEmpty else { return (nil, bytes) }
        return (Int(string(digits)), bytes[index...])
    }

    private static func isThousandsGroup(_ bytes: ArraySlice<UInt8>, after comma: Int) -> Bool {
        let group = bytes[(comma + 1)...].prefix(4)
        let digitCount = group.prefix(while: isDigit).count
        return digitCount == 3
    }
}
