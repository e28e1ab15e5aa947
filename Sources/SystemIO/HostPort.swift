/// A TCP endpoint written `HOST:PORT`: the one parser of `rasmand --metrics-listen`,
/// `fakemodem --listen` and the `rfc2217://`/`tcp://` port addresses.
///
/// `HOST` is an IPv4 address, a host name, or an IPv6 address in brackets (`[::1]:9464`);
/// `PORT` is 0 to 65535, where 0 lets the system pick a free port when listening.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    /// The host or address, without brackets.
    public var host: String
    /// The port; 0 before binding means any free port.
    public var port: Int

    /// An address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`.
    /// - Throws: ``Problem`` saying what is wrong with `text`.
    public init(parsing text: some StringProtocol) throws(Problem) {
        let text = String(text)
        let hostPart: Substring, portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .init(text, "an IPv6 address needs its closing ']'") }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .init(text, "the port is missing (e.g. [::1]:9464)") }
            portPart = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .init(text, "the port is missing (e.g. 127.0.0.1:9464)") }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { throw .init(text, "put an IPv6 address in brackets (e.g. [::1]:9464)") }
        }
        guard !hostPart.isEmpty else { throw .init(text, "the host is missing (127.0.0.1 for this machine only, 0.0.0.0 for every address)") }
        let allowed = hostPart.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-_:%".contains($0)) }
        guard allowed, hostPart.count <= 253 else { throw .init(text, "'\(hostPart)' is not a host name or an address") }
        guard !portPart.isEmpty, portPart.allSatisfy({ $0.isASCII && $0.isNumber }), portPart.count <= 5,
              let port = Int(portPart), port <= 65535 else {
            throw .init(text, "the port must be a number from 0 to 65535")
        }
        self.init(host: String(hostPart), port: port)
    }

    /// `host:port`, with an IPv6 address in brackets.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

extension HostPort {
    /// Why a value is not `HOST:PORT`.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        /// The value given.
        public var text: String
        /// What is wrong with it.
        public var problem: String

        init(_ text: String, _ problem: String) {
            self.text = text
            self.problem = problem
        }

        public var description: String { "'\(text)' is not HOST:PORT: \(problem)" }
    }
}
