package vfio.core.shell;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.felix.service.command.Descriptor;
import org.osgi.framework.Constants;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import vfio.api.backend.BackendFactory;
import vfio.api.backend.Match;
import vfio.api.device.Device;
import vfio.api.device.Region;
import vfio.core.device.DeviceSettings;
import vfio.core.dto.BackendDTO;
import vfio.core.dto.DeviceDTO;

/**
 * The {@code vfio} Gogo commands. Each command gathers data ({@link Snapshots}) and returns it
 * rendered ({@link Tables}); errors are exceptions whose message says what to do. Numbers accept
 * decimal and {@code 0x} hex; regions are named by index or as {@code bar0}..{@code bar5}, {@code
 * rom}, {@code config}, {@code vga}.
 *
 * <p>Works without ConfigurationAdmin, except {@code attach}, {@code detach} and {@code bind},
 * which edit device configurations.
 */
@Component(service = VfioCommands.class, property = {
    "osgi.command.scope=vfio",
    "osgi.command.function=devices", "osgi.command.function=backends", "osgi.command.function=attach",
    "osgi.command.function=detach", "osgi.command.function=info", "osgi.command.function=regions",
    "osgi.command.function=read", "osgi.command.function=write", "osgi.command.function=dump",
    "osgi.command.function=irqs", "osgi.command.function=bind", "osgi.command.function=mapping",
    "osgi.command.function=help"})
public final class VfioCommands {
    /** Most bytes one {@code dump} shows. */
    static final int MAX_DUMP = 64 * 1024;

    private final Map<Long, Device> devices = new ConcurrentHashMap<>();
    private final Map<Long, BackendEntry> backends = new ConcurrentHashMap<>();
    private volatile ConfigurationAdmin configAdmin;

    /** A tracked backend factory service. */
    record BackendEntry(BackendFactory factory, String id, int ranking, long serviceId, String bundle) {
    }

    @Activate
    public VfioCommands() {
    }

    @Reference(name = "device", service = Device.class, cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            unbind = "removeDevice")
    void addDevice(Device device, Map<String, Object> properties) {
        putDevice((Long) properties.get(Constants.SERVICE_ID), device);
    }

    void removeDevice(Device device, Map<String, Object> properties) {
        devices.remove((Long) properties.get(Constants.SERVICE_ID));
    }

    @Reference(name = "backend", service = BackendFactory.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, unbind = "removeBackend")
    void addBackend(ServiceReference<BackendFactory> ref, BackendFactory factory) {
        Object id = ref.getProperty(BackendFactory.PROP_ID);
        Object ranking = ref.getProperty(Constants.SERVICE_RANKING);
        putBackend(new BackendEntry(factory, id != null ? String.valueOf(id) : factory.id(),
                ranking instanceof Integer r ? r : 0, (Long) ref.getProperty(Constants.SERVICE_ID),
                ref.getBundle() != null ? ref.getBundle().getSymbolicName() : null));
    }

    void removeBackend(ServiceReference<BackendFactory> ref, BackendFactory factory) {
        backends.remove((Long) ref.getProperty(Constants.SERVICE_ID));
    }

    /** Tracks a backend factory (the DS bind method and tests). */
    void putBackend(BackendEntry entry) {
        backends.put(entry.serviceId(), entry);
    }

    @Reference(name = "configAdmin", service = ConfigurationAdmin.class, cardinality = ReferenceCardinality.OPTIONAL,
            policy = ReferencePolicy.DYNAMIC, unbind = "unsetConfigAdmin")
    void setConfigAdmin(ConfigurationAdmin admin) {
        configAdmin = admin;
    }

    void unsetConfigAdmin(ConfigurationAdmin admin) {
        if (configAdmin == admin) {
            configAdmin = null;
        }
    }

    /** Tracks a device (tests: one not registered as a service). */
    void putDevice(long serviceId, Device device) {
        devices.put(serviceId, device);
    }

    // ---------------------------------------------------------------- data

    /** @return a snapshot of every device, by name */
    public List<DeviceDTO> deviceDTOs() {
        List<DeviceDTO> out = new ArrayList<>();
        for (Device d : devices.values()) {
            out.add(Snapshots.device(d));
        }
        out.sort(Comparator.comparing(d -> d.name));
        return out;
    }

    /** @return every backend factory, with its match for {@code address} if not null; by id */
    public List<BackendDTO> backendDTOs(String address) {
        List<BackendDTO> out = new ArrayList<>();
        for (BackendEntry b : backends.values()) {
            Match m = null;
            if (address != null) {
                try {
                    m = b.factory().match(address);
                } catch (RuntimeException e) {
                    m = Match.no("match() threw " + e);
                }
            }
            out.add(Snapshots.backend(b.id(), b.ranking(), b.serviceId(), b.bundle(), address, m));
        }
        out.sort(Comparator.comparing((BackendDTO b) -> address == null ? 0 : -b.score)
                .thenComparing(b -> -b.ranking).thenComparing(b -> b.id));
        return out;
    }

    // ---------------------------------------------------------------- commands

    @Descriptor("list the devices: state, backend, since when and why")
    public String devices() {
        return Tables.devices(deviceDTOs());
    }

    @Descriptor("list the backend factories")
    public String backends() {
        return Tables.backends(backendDTOs(null), null);
    }

    @Descriptor("list the backend factories with each one's match score and reason for an address")
    public String backends(@Descriptor("device address, e.g. pci:0000:00:02.0") String address) {
        return Tables.backends(backendDTOs(address), address);
    }

    @Descriptor("create a device configuration (any backend)")
    public String attach(@Descriptor("unique device name") String name,
            @Descriptor("device address, e.g. vfio-user:/run/dev.sock") String address) throws IOException {
        return attach(name, address, DeviceSettings.ANY_BACKEND);
    }

    @Descriptor("create a device configuration, restricted to backends matching an LDAP filter")
    public String attach(@Descriptor("unique device name") String name,
            @Descriptor("device address") String address,
            @Descriptor("backend filter in quotes, e.g. '(vfio.backend.id=vfio.backend.user)'") String backendFilter)
            throws IOException {
        ConfigurationAdmin cm = configAdmin();
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(DeviceSettings.NAME, name);
        props.put(DeviceSettings.ADDRESS, address);
        props.put(DeviceSettings.BACKEND_TARGET, backendFilter);
        DeviceSettings.from(props); // the same validation the device will do, reported here and now
        if (!configurations(cm, name).isEmpty()) {
            throw new IllegalArgumentException("device " + name + " already exists; vfio:detach " + name + " first");
        }
        Configuration c = cm.getFactoryConfiguration(DeviceSettings.FACTORY_PID, name, "?");
        c.update(props);
        return "Device " + name + " created for " + address + " (configuration " + c.getPid()
                + "); vfio:devices shows when it is bound.";
    }

    @Descriptor("delete a device configuration (the device service goes away)")
    public String detach(@Descriptor("device name") String name) throws IOException {
        List<Configuration> found = configurations(configAdmin(), name);
        if (found.isEmpty()) {
            throw new IllegalArgumentException("no device configuration named " + name + knownNames());
        }
        for (Configuration c : found) {
            c.delete();
        }
        return "Device " + name + " deleted.";
    }

    @Descriptor("pin a device to one backend by setting its backend filter (any: allow every backend again)")
    public String bind(@Descriptor("device name") String name, @Descriptor("backend id, or any") String backendId)
            throws IOException {
        List<Configuration> found = configurations(configAdmin(), name);
        if (found.isEmpty()) {
            throw new IllegalArgumentException("no device configuration named " + name + knownNames());
        }
        boolean any = backendId.equals("any") || backendId.equals("*");
        String filter = any ? DeviceSettings.ANY_BACKEND
                : "(" + BackendFactory.PROP_ID + "=" + escape(backendId) + ")";
        Configuration c = found.get(0);
        Dictionary<String, Object> props = c.getProperties();
        props.put(DeviceSettings.BACKEND_TARGET, filter);
        c.update(props);
        boolean known = any || backends.values().stream().anyMatch(b -> b.id().equals(backendId));
        return "Device " + name + " now uses backend filter " + filter + "."
                + (known ? "" : " No backend " + backendId + " is registered yet; the device waits for it.");
    }

    @Descriptor("show a device: configuration, state and reason, backend, device info")
    public String info(@Descriptor("device name") String name) {
        Device d = device(name);
        String backendsText = Tables.backends(backendDTOs(d.address()), d.address());
        return Tables.device(Snapshots.device(d)) + "\n\n" + backendsText;
    }

    @Descriptor("list a device's regions: size, flags, mapped ranges")
    public String regions(@Descriptor("device name") String name) {
        Device d = device(name);
        return Tables.regions(name, Snapshots.regions(neverBoundCheck(d)));
    }

    @Descriptor("list a device's IRQ indexes: vectors, enabled, handler calls per vector")
    public String irqs(@Descriptor("device name") String name) {
        Device d = device(name);
        return Tables.irqs(name, Snapshots.irqs(neverBoundCheck(d)));
    }

    @Descriptor("read a 4-byte register")
    public String read(@Descriptor("device name") String name, @Descriptor("region: index, bar0..bar5, rom, config, vga") String region,
            @Descriptor("offset in bytes") String offset) {
        return read(name, region, offset, "4");
    }

    @Descriptor("read a register of 1, 2, 4 or 8 bytes")
    public String read(@Descriptor("device name") String name, @Descriptor("region") String region,
            @Descriptor("offset in bytes") String offset, @Descriptor("width: 1, 2, 4 or 8") String width) {
        Region r = region(name, region);
        long off = Numbers.parse("offset", offset);
        int w = Numbers.width(width);
        long v = switch (w) {
            case 1 -> r.read8(off);
            case 2 -> r.read16(off);
            case 4 -> r.read32(off) & 0xffffffffL;
            default -> r.read64(off);
        };
        return Numbers.hex(v, w);
    }

    @Descriptor("write a 4-byte register")
    public String write(@Descriptor("device name") String name, @Descriptor("region") String region,
            @Descriptor("offset in bytes") String offset, @Descriptor("value") String value) {
        return write(name, region, offset, value, "4");
    }

    @Descriptor("write a register of 1, 2, 4 or 8 bytes")
    public String write(@Descriptor("device name") String name, @Descriptor("region") String region,
            @Descriptor("offset in bytes") String offset, @Descriptor("value") String value,
            @Descriptor("width: 1, 2, 4 or 8") String width) {
        Region r = region(name, region);
        long off = Numbers.parse("offset", offset);
        int w = Numbers.width(width);
        long v = Numbers.fit(Numbers.parse("value", value), w);
        switch (w) {
            case 1 -> r.write8(off, (int) v);
            case 2 -> r.write16(off, (int) v);
            case 4 -> r.write32(off, (int) v);
            default -> r.write64(off, v);
        }
        return "Wrote " + Numbers.hex(v & (w == 8 ? -1L : (1L << (8 * w)) - 1), w) + " (" + w + (w == 1 ? " byte" : " bytes")
                + ") to " + r.name() + "+0x" + Long.toHexString(off) + " of " + name + ".";
    }

    @Descriptor("show bytes of a region in hex and ASCII")
    public String dump(@Descriptor("device name") String name, @Descriptor("region") String region,
            @Descriptor("offset in bytes") String offset, @Descriptor("length in bytes (at most 65536)") String length) {
        Region r = region(name, region);
        long off = Numbers.parse("offset", offset);
        long len = Numbers.parse("length", length);
        if (len < 1 || len > MAX_DUMP) {
            throw new IllegalArgumentException("length " + length + " is outside 1.." + MAX_DUMP);
        }
        byte[] data = new byte[(int) len];
        r.read(off, data, 0, data.length);
        return Tables.hexDump(off, data);
    }

    @Descriptor("turn a region's mapped fast path on or off (off: every access goes through the backend)")
    public String mapping(@Descriptor("device name") String name, @Descriptor("region") String region,
            @Descriptor("on or off") String onOff) {
        boolean on = switch (onOff.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "on", "true", "1" -> true;
            case "off", "false", "0" -> false;
            default -> throw new IllegalArgumentException("'" + onOff + "' is not on or off");
        };
        Region r = region(name, region);
        r.setMappingEnabled(on);
        return "Mapping of " + r.name() + " of " + name + " is " + (on ? "on" : "off") + "; mapped now: "
                + (r.mappedRanges().isEmpty() ? "nothing" : r.mappedRanges().size() + " range(s)") + ".";
    }

    @Descriptor("describe the vfio commands")
    public String help() {
        return String.join("\n",
                "vfio:devices                                  devices, state, backend and why",
                "vfio:backends [address]                       backend factories; with an address, each one's score and reason",
                "vfio:attach <name> <address> ['filter']       create a device configuration; an LDAP filter in quotes",
                "                                              pins backends, e.g. '(vfio.backend.id=vfio.backend.user)'",
                "vfio:detach <name>                            delete a device configuration",
                "vfio:bind <name> <backend-id|any>             pin a device to a backend (any: every backend again)",
                "vfio:info <name>                              configuration, state, device info, matching backends",
                "vfio:regions <name>                           regions: size, flags, mapped ranges",
                "vfio:irqs <name>                              IRQ indexes: vectors, enabled, handler calls",
                "vfio:read <name> <region> <offset> [width]    read 1, 2, 4 (default) or 8 bytes",
                "vfio:write <name> <region> <offset> <value> [width]",
                "                                              write 1, 2, 4 (default) or 8 bytes",
                "vfio:dump <name> <region> <offset> <length>   hex and ASCII of up to 64 KiB",
                "vfio:mapping <name> <region> on|off           use or bypass the mapped fast path",
                "",
                "Regions: a number, bar0..bar5, rom, config or vga. Numbers: decimal or 0x hex.");
    }

    // ---------------------------------------------------------------- helpers

    private Device device(String name) {
        for (Device d : devices.values()) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        throw new IllegalArgumentException("no device named " + name + knownNames());
    }

    private String knownNames() {
        List<String> names = new ArrayList<>();
        devices.values().forEach(d -> names.add(d.name()));
        names.sort(null);
        return names.isEmpty() ? " (there are no devices)" : " (devices: " + String.join(", ", names) + ")";
    }

    private static Device neverBoundCheck(Device d) {
        if (Snapshots.knownInfo(d).isEmpty()) {
            throw new IllegalStateException("device " + d.name() + " has never been bound (" + d.state() + ": "
                    + d.stateReason() + "); its regions and IRQs are not known yet");
        }
        return d;
    }

    private Region region(String device, String region) {
        Device d = neverBoundCheck(device(device));
        return d.region(region);
    }

    private ConfigurationAdmin configAdmin() {
        ConfigurationAdmin cm = configAdmin;
        if (cm == null) {
            throw new IllegalStateException("ConfigurationAdmin is not available; install and start a ConfigAdmin bundle");
        }
        return cm;
    }

    private static List<Configuration> configurations(ConfigurationAdmin cm, String name) throws IOException {
        try {
            Configuration[] found = cm.listConfigurations("(&(" + ConfigurationAdmin.SERVICE_FACTORYPID + "="
                    + DeviceSettings.FACTORY_PID + ")(" + DeviceSettings.NAME + "=" + escape(name) + "))");
            return found == null ? List.of() : List.of(found);
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException("device name '" + name + "' cannot be searched for: " + e.getMessage());
        }
    }

    /** Escapes a value for an LDAP filter (RFC 1960: backslash, asterisk, parentheses). */
    static String escape(String value) {
        StringBuilder sb = new StringBuilder();
        for (char c : value.toCharArray()) {
            if (c == '\\' || c == '*' || c == '(' || c == ')') {
                sb.append('\\');
            }
            sb.append(c);
        }
        return sb.toString();
    }
}
