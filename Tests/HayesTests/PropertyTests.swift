import Hayes
import Testing

/// A random byte biased towards what confuses a framer: line ends, printable text,
/// parity bits, NUL, 0xFF and other control bytes.
private func noisyByte(using rng: inout SplitMix64) -> UInt8 {
    switch Int.random(in: 0..<10, using: &rng) {
    case 0: return 13
    case 1: return 10
    case 2: return [0, 0xFF, 0x1B, 0x07, 0x7F, 0x09][Int.random(in: 0..<6, using: &rng)]
    case 3: return UInt8.random(in: 0x80...0xFF, using: &rng)
    case 4: return UInt8.random(in: 0...0xFF, using: &rng)
    default: return UInt8.random(in: 0x20...0x7E, using: &rng)
    }
}

private let noiseAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,:/+-=~".utf8)

/// A text line that is neither a result nor an intermediate nor a ring.
private func noiseLine(using rng: inout SplitMix64) -> [UInt8] {
    while true {
        let length = Int.random(in: 1...40, using: &rng)
        let line = (0..<length).map { _ in noiseAlphabet[Int.random(in: 0..<noiseAlphabet.count, using: &rng)] }
        switch ResultParser.classify(verbal: String(decoding: line, as: UTF8.self)) {
        case .info, .unrecognised: return line
        default: continue
        }
    }
}

/// Inserts dropped bytes (NUL, 0xFF, ESC, BEL, DEL) at random places.
private func sprinkle(_ data: [UInt8], using rng: inout SplitMix64) -> [UInt8] {
    var out: [UInt8] = []
    for byte in data {
        if Int.random(in: 0..<8, using: &rng) == 0 {
            out.append([0, 0xFF, 0x1B, 0x07, 0x7F, 0x80][Int.random(in: 0..<6, using: &rng)])
        }
        out.append(byte)
    }
    return out
}

private struct Target {
    var text: String
    var expected: FinalResult
}

private let verbalTargets: [Target] = [
    Target(text: "OK", expected: .ok),
    Target(text: "NO CARRIER", expected: .noCarrier),
    Target(text: "busy", expected: .busy),
    Target(text: "NO DIAL TONE", expected: .noDialTone),
    Target(text: "CONNECT 33600/ARQ/V42BIS",
           expected: .connect(ConnectInfo(rate: 33600, protocol: "ARQ/V42BIS", detail: "33600/ARQ/V42BIS"))),
    Target(text: "CONNECT 33,600", expected: .connect(ConnectInfo(rate: 33600, detail: "33,600"))),
    Target(text: "BLACKLISTED", expected: .blacklisted),
]

private let numericTargets: [Target] = [
    Target(text: "0", expected: .ok),
    Target(text: "3", expected: .noCarrier),
    Target(text: "7", expected: .busy),
    Target(text: "10", expected: .connect(ConnectInfo(rate: 2400, detail: "2400"))),
]

@Suite("Properties")
struct PropertyTests {
    @Test("random byte streams never crash and never grow buffers beyond the cap")
    func randomStreams() {
        var rng = SplitMix64(seed: 0x5EED_0001)
        var lineCount = 0
        for _ in 0..<1500 {
            let cap = Bool.random(using: &rng) ? Int.random(in: 1...64, using: &rng) : LineFramer.defaultMaximumLineLength
            var decoder = ResponseDecoder(
                parser: ResultParser(numericMode: Bool.random(using: &rng), table: .siliconLabs), maximumLineLength: cap)
            var collector = ResponseCollector(maximumTextBytes: 256)
            if Bool.random(using: &rng) { decoder.expectEcho(ATCommand(.reset)) }
            let length = Int.random(in: 0...1500, using: &rng)
            let stream = (0..<length).map { _ in noisyByte(using: &rng) }
            for chunk in randomSplit(stream, using: &rng) {
                var lines = decoder.feed(chunk)
                if Int.random(in: 0..<4, using: &rng) == 0 { lines += decoder.flush() }
                #expect(decoder.framer.bufferedByteCount <= cap)
                for decoded in lines {
                    lineCount += 1
                    let text = Array(decoded.line.text.utf8)
                    #expect(text.count <= cap)
                    #expect(text.allSatisfy { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 })
                    #expect(!text.allSatisfy { $0 == 0x20 || $0 == 0x09 })
                    _ = collector.accept(decoded.response)
                }
            }
            for decoded in decoder.finish() { _ = collector.accept(decoded.response) }
            #expect(decoder.framer.bufferedByteCount == 0)
            let kept = (collector.response?.info ?? []) + (collector.response?.unrecognised ?? [])
            #expect(kept.reduce(0) { $0 + $1.utf8.count + 1 } <= 256)
        }
        #expect(lineCount > 10_000)
    }

    @Test("splitting a stream anywhere gives the same lines")
    func chunkingInvariance() {
        var rng = SplitMix64(seed: 0x5EED_0002)
        for _ in 0..<1000 {
            let stream = (0..<Int.random(in: 0...400, using: &rng)).map { _ in noisyByte(using: &rng) }
            var whole = LineFramer(maximumLineLength: 32)
            var pieces = LineFramer(maximumLineLength: 32)
            whole.expectEcho(bytes("ATZ\r"))
            pieces.expectEcho(bytes("ATZ\r"))
            let expected = whole.feed(stream) + whole.finish()
            var actual: [FramedLine] = []
            for chunk in randomSplit(stream, using: &rng) { actual += pieces.feed(chunk) }
            actual += pieces.finish()
            #expect(actual == expected)
        }
    }

    @Test("a verbal result among noise lines is recovered exactly once")
    func verbalRecovery() throws {
        let dial = ATCommand(.dial(try DialString("T5551234")))
        var rng = SplitMix64(seed: 0x5EED_0003)
        let terminators = [bytes("\r\n"), bytes("\n"), bytes("\r\r\n"), bytes("\r")]
        for _ in 0..<2000 {
            let target = verbalTargets[Int.random(in: 0..<verbalTargets.count, using: &rng)]
            var stream: [UInt8] = []
            var decoder = ResponseDecoder()
            let withEcho = Bool.random(using: &rng)
            if withEcho {
                decoder.expectEcho(dial)
                stream += bytes("ATDT5551234\r")
            }
            for _ in 0..<Int.random(in: 0...5, using: &rng) {
                stream += bytes("\r\n") + noiseLine(using: &rng) + terminators[Int.random(in: 0..<4, using: &rng)]
            }
            stream += bytes("\r\n") + bytes(target.text) + terminators[Int.random(in: 0..<4, using: &rng)]
            for _ in 0..<Int.random(in: 0...5, using: &rng) {
                stream += bytes("\r\n") + noiseLine(using: &rng) + terminators[Int.random(in: 0..<4, using: &rng)]
            }
            stream = sprinkle(stream, using: &rng)

            var responses: [DecodedLine] = []
            for chunk in randomSplit(stream, using: &rng) {
                responses += decoder.feed(chunk)
                // Flushing at any time is harmless for verbal results.
                if Bool.random(using: &rng) { responses += decoder.flush() }
            }
            responses += decoder.flush()

            let finals = responses.filter { if case .final = $0.response { return true } else { return false } }
            #expect(finals.map(\.response) == [.final(target.expected)], "stream \(stream)")
            #expect(responses.filter(\.line.isEcho).count == (withEcho ? 1 : 0), "stream \(stream)")
        }
    }

    @Test("a numeric result among info lines is recovered exactly once")
    func numericRecovery() {
        var rng = SplitMix64(seed: 0x5EED_0004)
        let infoTerminators = [bytes("\r\n"), bytes("\n"), bytes("\r\r\n")]
        for _ in 0..<2000 {
            let target = numericTargets[Int.random(in: 0..<numericTargets.count, using: &rng)]
            var decoder = ResponseDecoder(parser: ResultParser(numericMode: true))
            decoder.expectEcho(bytes("ATI0\r"))
            var stream: [UInt8] = Bool.random(using: &rng) ? bytes("ATI0\r") : []
            for _ in 0..<Int.random(in: 0...5, using: &rng) {
                // Info text in V0 ends with CR LF; digits-only info lines are included.
                let line = Bool.random(using: &rng)
                    ? bytes(String(Int.random(in: 0...999, using: &rng))) : noiseLine(using: &rng)
                stream += line + infoTerminators[Int.random(in: 0..<3, using: &rng)]
            }
            stream += bytes(target.text) + bytes("\r")
            if Bool.random(using: &rng) {
                stream += noiseLine(using: &rng) + bytes("\r\n")
            }
            stream = sprinkle(stream, using: &rng)

            var responses: [ModemResponse] = []
            for chunk in randomSplit(stream, using: &rng) {
                responses += decoder.feed(chunk).map(\.response)
            }
            responses += decoder.flush().map(\.response)

            let finals = responses.filter { if case .final = $0 { return true } else { return false } }
            #expect(finals == [.final(target.expected)], "stream \(stream)")
        }
    }
}
