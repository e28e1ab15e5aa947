import Serial

/// Bytes from a terminal server through `Telnet.Decoder`, and RFC 2217 messages.
///
/// The first byte configures: bit 0 NVT (non-BINARY) mode, bit 1 a subnegotiation limit of
/// 8 bytes (to reach the oversized path), else 512. Properties: decoding whole, in random
/// pieces or byte by byte gives the same events once adjacent data runs are joined; no
/// event is empty data; no subnegotiation payload exceeds the limit; `escape` then decode
/// gives back the data exactly (IAC doubling, and CR NUL outside BINARY); every
/// COM-PORT-OPTION message decoded from a subnegotiation (and the rest of the input read as
/// one) encodes to a sequence that decodes to the same subnegotiation and message.
enum TelnetFuzz {
    static func run(_ input: [UInt8]) -> [String] {
        guard let config = input.first else { return [] }
        let body = Array(input.dropFirst())
        let binary = config & 1 == 0
        let limit = config & 2 != 0 ? 8 : 512
        var violations: [String] = []
        func decoder() -> Telnet.Decoder { Telnet.Decoder(binary: binary, maxSubnegotiation: limit) }

        var wholeDecoder = decoder()
        let whole = wholeDecoder.decode(body)
        var chunkedDecoder = decoder()
        var chunked: [Telnet.Event] = []
        for piece in pieces(of: body, seed: config) { chunked += chunkedDecoder.decode(piece) }
        var bytewiseDecoder = decoder()
        var bytewise: [Telnet.Event] = []
        for byte in body { bytewise += bytewiseDecoder.decode(CollectionOfOne(byte)) }
        let joined = joinData(whole)
        if joinData(chunked) != joined { violations.append("events differ when decoded in pieces") }
        if joinData(bytewise) != joined { violations.append("events differ when decoded byte by byte") }

        for event in whole {
            switch event {
            case .data(let data) where data.isEmpty:
                violations.append("empty data event")
            case .subnegotiation(let option, let payload):
                if payload.count > limit { violations.append("subnegotiation of \(payload.count) bytes, limit \(limit)") }
                if option == Telnet.Option.comPort, let message = ComPort.Message(payload: payload) {
                    roundTrip(message, payload: payload, into: &violations)
                }
            default:
                break
            }
        }
        if let message = ComPort.Message(payload: body) { roundTrip(message, payload: body, into: &violations) }

        var plain = Telnet.Decoder(binary: binary)
        let decoded = joinData(plain.decode(Telnet.escape(body, binary: binary)))
        if decoded != (body.isEmpty ? [] : [.data(body)]) {
            violations.append("escape then decode of '\(show(body))' gives \(decoded.count) events, not the data")
        }
        return violations
    }

    private static func roundTrip(_ message: ComPort.Message, payload: [UInt8], into violations: inout [String]) {
        var decoder = Telnet.Decoder(binary: true, maxSubnegotiation: payload.count + 1)
        let events = decoder.decode(message.encoded)
        guard events == [.subnegotiation(Telnet.Option.comPort, payload)] else {
            violations.append("COM-PORT message '\(show(payload))' encodes to '\(show(message.encoded))', decoded as \(events)")
            return
        }
        if ComPort.Message(payload: payload) != message {
            violations.append("COM-PORT payload '\(show(payload))' reads as another message")
        }
    }

    /// The events with adjacent data runs joined (how bytes are split into reads shows only there).
    private static func joinData(_ events: [Telnet.Event]) -> [Telnet.Event] {
        var result: [Telnet.Event] = []
        for event in events {
            if case .data(let data) = event, case .data(let previous)? = result.last {
                result[result.count - 1] = .data(previous + data)
            } else {
                result.append(event)
            }
        }
        return result
    }
}
