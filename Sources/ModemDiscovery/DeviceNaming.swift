/// The stable device name of a port — what RAS calls the "device name", and what a
/// phonebook entry's `Device=` can give instead of a path.
///
/// The rule, first match wins:
/// 1. **Administrator's choice**: `ID_SWIFT_RAS_NAME` set by a udev rule.
/// 2. **USB**: `<vendor>_<model>[_<serial>]-if<NN>[-port<N>]` — vendor, model and serial
///    are the USB string descriptors as udev sanitises them (`ID_VENDOR`, `ID_MODEL`,
///    `ID_SERIAL_SHORT`; the hex IDs when a string is missing), `NN` the interface number
///    in two hex digits, `-port<N>` only for the second and later port of one USB-serial
///    interface. This is exactly the `/dev/serial/by-id/usb-…` link without `usb-`, and
///    our rules link `/dev/modem/<name>` to it. When the device has no USB serial number,
///    the modem's own `AT+GSN` answer (a cellular modem's IMEI) takes its place.
/// 3. **Other ports with an identified modem** (a UART, a PCI card): `<GMI>_<GMM>[_<GSN>]`
///    from the probe, so the modem keeps its name on another port.
/// 4. Otherwise the kernel name (`ttyS0`), which is stable for built-in ports.
///
/// Nothing depends on where the device is plugged (no by-path link, no bus or device
/// number), so a USB modem keeps its name in any socket. Two devices that report the
/// same strings and no serial number (or a shared dummy serial) get the same name; in one
/// listing the later ones (in device-node order) get `~2`, `~3`… by
/// ``uniqued(_:)`` — not stable across re-plugging: give such devices
/// `ID_SWIFT_RAS_NAME` with a rule.
public enum DeviceNaming {
    /// The name of `device`, using the probe's identity when it has one.
    public static func name(for device: SerialDevice, identity: ProbedIdentity? = nil) -> String {
        if let name = device.hints.name {
            let clean = sanitized(name)
            if !clean.isEmpty { return clean }
        }
        if let usb = device.usb {
            let properties = device.properties
            let vendor = nonEmpty(properties["ID_VENDOR"]) ?? nonEmpty(usb.manufacturer.map(sanitized)) ?? hex4(usb.vendorID)
            let model = nonEmpty(properties["ID_MODEL"]) ?? nonEmpty(usb.product.map(sanitized)) ?? hex4(usb.productID)
            let serial = nonEmpty(properties["ID_SERIAL_SHORT"]) ?? nonEmpty(usb.serialNumber.map(sanitized))
                ?? nonEmpty(identity?.serialNumber.map(sanitized))
            var name = [vendor, model, serial].compactMap { $0 }.joined(separator: "_")
            if let interface = usb.interfaceNumber {
                let digits = String(interface, radix: 16)
                name += "-if" + (digits.count < 2 ? "0" + digits : digits)
            }
            if let port = usb.portNumber, port > 0 { name += "-port\(port)" }
            return name
        }
        if let identity, let maker = nonEmpty(identity.manufacturer.map(sanitized)),
           let model = nonEmpty(identity.model.map(sanitized)) {
            return [maker, model, nonEmpty(identity.serialNumber.map(sanitized))].compactMap { $0 }.joined(separator: "_")
        }
        return device.kernelName
    }

    /// udev's cleaning of a string for a link name: surrounding blanks removed, each run
    /// of blanks one `_`, every character other than ASCII letters, digits and `+-._@`
    /// replaced by `_`.
    public static func sanitized(_ text: String) -> String {
        var result = ""
        var pendingBlank = false
        for character in text.trimmingASCIIWhitespace() {
            if character == " " || character == "\t" {
                pendingBlank = true
                continue
            }
            if pendingBlank {
                result.append("_")
                pendingBlank = false
            }
            let allowed = character.isASCII && (character.isLetter || character.isNumber || "+-._@".contains(character))
            result.append(allowed ? character : "_")
        }
        return result
    }

    /// Makes names unique, keeping their order: a name already taken gets `~2`, `~3`…
    public static func uniqued(_ names: [String]) -> [String] {
        var used = Set<String>()
        return names.map { name in
            var candidate = name
            var count = 1
            while used.contains(candidate) {
                count += 1
                candidate = "\(name)~\(count)"
            }
            used.insert(candidate)
            return candidate
        }
    }

    private static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }
}
