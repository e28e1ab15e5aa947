import RAS
import RASService

/// Bytes from a `rasmand` client through `LineSplitter` and the server's reading of each
/// line (`Frame.reading(requestLine:)`, what a client session does).
///
/// The first byte configures: bit 0 a small line limit (64 bytes + the byte, to reach the
/// over-long path), else the protocol's 64 KiB. Properties: no line holds a newline, is
/// blank, or reaches the limit, and the splitter never holds the limit; splitting the
/// bytes whole or in random pieces gives the same items; every line is either a request
/// whose `v`, `id` and `op` are the server's, and that re-encodes to a frame that decodes
/// and re-encodes to the same bytes, or refused with a failure frame (`ok` false) that is
/// one line of JSON a client decodes, within ``WireProtocol/maximumServerFrameBytes``.
enum WireFuzz {
    static func run(_ input: [UInt8]) -> [String] {
        guard let config = input.first else { return [] }
        let body = Array(input.dropFirst())
        let limit = config & 1 != 0 ? 64 + Int(config) : WireProtocol.maximumFrameBytes
        var violations: [String] = []

        var whole = LineSplitter(limit: limit)
        let items = whole.feed(body)
        var chunked = LineSplitter(limit: limit)
        var chunkedItems: [LineSplitter.Item] = []
        for piece in pieces(of: body, seed: config, maximum: 23) {
            chunkedItems += chunked.feed(piece).map { item in
                if case .line(let line) = item { return .line(Array(line)[...]) }
                return item
            }
            if chunked.pendingCount >= limit { violations.append("splitter holds \(chunked.pendingCount) bytes, limit \(limit)") }
        }
        if chunkedItems.count != items.count || zip(chunkedItems, items).contains(where: { !same($0, $1) }) {
            violations.append("items differ when fed in pieces: \(chunkedItems.count) vs \(items.count) whole")
        }
        if whole.pendingCount != chunked.pendingCount || whole.pendingCount >= limit {
            violations.append("pending \(whole.pendingCount) whole, \(chunked.pendingCount) in pieces, limit \(limit)")
        }

        for item in items {
            guard case .line(let line) = item else { continue }
            if line.contains(10) { violations.append("line holds a newline") }
            if line.count >= limit { violations.append("line of \(line.count) bytes, limit \(limit)") }
            if line.allSatisfy({ $0 == 32 || $0 == 13 || $0 == 9 }) { violations.append("blank line passed on") }
            check(line, into: &violations)
        }
        return violations
    }

    private static func same(_ a: LineSplitter.Item, _ b: LineSplitter.Item) -> Bool {
        switch (a, b) {
        case (.oversized, .oversized): true
        case (.line(let x), .line(let y)): x.elementsEqual(y)
        default: false
        }
    }

    private static func check(_ line: ArraySlice<UInt8>, into violations: inout [String]) {
        switch Frame.reading(requestLine: line) {
        case .request(let frame, let id, let operation):
            if frame.v != WireProtocol.version || frame.id != id || frame.op != operation.rawValue {
                violations.append("request read as v \(frame.v) id \(String(describing: frame.id)) op \(String(describing: frame.op))")
            }
            let encoded = frame.encodedLine()
            do {
                let again = try Frame.decode(encoded.dropLast()).encodedLine()
                if again != encoded {
                    violations.append("request '\(show(line))' re-encodes as '\(show(encoded))' then '\(show(again))'")
                }
            } catch {
                violations.append("request '\(show(line))' re-encodes as '\(show(encoded))', which does not decode: \(error)")
            }
        case .refused(let failure):
            let encoded = failure.encodedLine()
            if encoded.count > WireProtocol.maximumServerFrameBytes || encoded.last != 10 || encoded.dropLast().contains(10) {
                violations.append("failure frame is not one line: '\(show(encoded))'")
            }
            do {
                let decoded = try Frame.decode(encoded.dropLast())
                if decoded.ok != false { violations.append("failure frame decodes with ok \(String(describing: decoded.ok))") }
            } catch {
                violations.append("failure frame '\(show(encoded))' does not decode: \(error)")
            }
        }
    }
}
