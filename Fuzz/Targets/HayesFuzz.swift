import Hayes

/// Bytes from a modem through `ResponseDecoder` (framer + parser).
///
/// The first byte configures: bit 0 numeric (V0) results, bit 1 a 16-byte line limit (to
/// reach truncation), bit 2 expect the first line of the rest as a command echo.
/// Properties: every line is non-blank printable ASCII or TAB, at most the limit long
/// (exactly the limit when truncated); the framer never buffers more than the limit; an
/// echo line is classified `.echo` and a truncated one `.unrecognised`; feeding the bytes
/// whole, in random pieces, or one by one gives the same lines and meanings; the verbal
/// classifier takes any text.
enum HayesFuzz {
    static func run(_ input: [UInt8]) -> [String] {
        guard let config = input.first else { return [] }
        let body = Array(input.dropFirst())
        let limit = config & 2 != 0 ? 16 : LineFramer.defaultMaximumLineLength
        var violations: [String] = []

        func decoder() -> ResponseDecoder {
            var decoder = ResponseDecoder(parser: ResultParser(numericMode: config & 1 != 0), maximumLineLength: limit)
            if config & 4 != 0 {
                decoder.expectEcho(Array(body.prefix { $0 != 13 && $0 != 10 }.prefix(64)))
            }
            return decoder
        }

        var whole = decoder()
        var wholeLines = whole.feed(body)
        if whole.framer.bufferedByteCount > limit {
            violations.append("framer buffers \(whole.framer.bufferedByteCount) bytes, limit \(limit)")
        }
        wholeLines += whole.finish()

        var chunked = decoder()
        var chunkedLines: [DecodedLine] = []
        for piece in pieces(of: body, seed: config) {
            chunkedLines += chunked.feed(piece)
            if chunked.framer.bufferedByteCount > limit {
                violations.append("framer buffers \(chunked.framer.bufferedByteCount) bytes, limit \(limit)")
            }
        }
        chunkedLines += chunked.finish()
        if chunkedLines != wholeLines {
            violations.append("lines differ when fed in pieces: \(chunkedLines.count) vs \(wholeLines.count) whole")
        }

        var bytewise = decoder()
        var bytewiseLines: [DecodedLine] = []
        for byte in body { bytewiseLines += bytewise.feed(CollectionOfOne(byte)) }
        bytewiseLines += bytewise.finish()
        if bytewiseLines != wholeLines {
            violations.append("lines differ when fed byte by byte: \(bytewiseLines.count) vs \(wholeLines.count) whole")
        }

        // With a flush after every piece (a quiet time): same invariants, other terminators.
        var flushed = decoder()
        var flushedLines: [DecodedLine] = []
        for piece in pieces(of: body, seed: config &+ 1) {
            flushedLines += flushed.feed(piece)
            flushedLines += flushed.flush()
        }
        flushedLines += flushed.finish()

        for decoded in wholeLines + flushedLines {
            let line = decoded.line
            let bytes = Array(line.text.utf8)
            if bytes.isEmpty || bytes.allSatisfy({ $0 == 32 || $0 == 9 }) {
                violations.append("blank line emitted: '\(show(bytes))'")
            }
            if let bad = bytes.first(where: { !($0 == 9 || (0x20..<0x7F).contains($0)) }) {
                violations.append("line has byte \(bad): '\(show(bytes))'")
            }
            if bytes.count > limit || (line.isTruncated && bytes.count != limit) {
                violations.append("line of \(bytes.count) bytes (truncated: \(line.isTruncated)), limit \(limit)")
            }
            if line.isEcho, decoded.response != .echo(line.text) {
                violations.append("echo line classified \(decoded.response)")
            }
            if line.isTruncated, !line.isEcho, decoded.response != .unrecognised(line.text) {
                violations.append("truncated line classified \(decoded.response)")
            }
        }
        _ = ResultParser.classify(verbal: String(decoding: body, as: UTF8.self))
        return violations
    }
}
