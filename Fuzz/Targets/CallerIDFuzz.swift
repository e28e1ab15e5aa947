import Hayes

/// Lines between rings through `CallerIDParser`.
///
/// The input is split at LF; each line is fed as text (any bytes, as `feed(line:)` takes
/// them) to one parser, and the same bytes go through a `LineFramer` into a second parser
/// as framed lines (as a listening session feeds it). Properties: every caller ID reported
/// (by an event or by `finish()`) has fields within their documented bounds (number, name
/// and dialable number ≤ 64 characters, message ≤ 256), only printable ASCII (TAB allowed in
/// the message), date and time in range, and never both a name and a reason for its
/// absence.
enum CallerIDFuzz {
    static func run(_ input: [UInt8]) -> [String] {
        var violations: [String] = []
        var parser = CallerIDParser()
        for line in input.split(separator: 10, omittingEmptySubsequences: false) {
            for event in parser.feed(line: String(decoding: line, as: UTF8.self)) {
                check(event, into: &violations)
            }
        }
        if let id = parser.finish() { check(id, into: &violations) }

        var framer = LineFramer()
        var framed = CallerIDParser()
        for line in framer.feed(input) + framer.finish() {
            for event in framed.feed(line) { check(event, into: &violations) }
        }
        if let id = framed.finish() { check(id, into: &violations) }
        return violations
    }

    private static func check(_ event: CallerIDEvent, into violations: inout [String]) {
        if case .updated(let id) = event { check(id, into: &violations) }
    }

    private static func check(_ id: CallerID, into violations: inout [String]) {
        func field(_ name: String, _ value: String?, limit: Int, tab: Bool = false) {
            guard let value else { return }
            if value.unicodeScalars.count > limit {
                violations.append("\(name) has \(value.unicodeScalars.count) characters, limit \(limit)")
            }
            if let bad = value.unicodeScalars.first(where: { !((0x20..<0x7F).contains($0.value) || (tab && $0 == "\t")) }) {
                violations.append("\(name) has character U+\(String(bad.value, radix: 16)): '\(show(value.utf8))'")
            }
        }
        field("number", id.number, limit: CallerIDParser.maximumFieldLength)
        field("name", id.name, limit: CallerIDParser.maximumFieldLength)
        field("message", id.message, limit: CallerIDParser.maximumMessageLength, tab: true)
        func range(_ name: String, _ value: Int?, _ range: ClosedRange<Int>) {
            if let value, !range.contains(value) { violations.append("\(name) \(value) outside \(range)") }
        }
        range("month", id.month, 1...12)
        range("day", id.day, 1...31)
        range("hour", id.hour, 0...23)
        range("minute", id.minute, 0...59)
        if id.name != nil, id.nameAbsence != nil {
            violations.append("both a name and a reason for its absence")
        }
    }
}
