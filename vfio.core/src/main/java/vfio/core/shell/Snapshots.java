package vfio.core.shell;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import vfio.api.backend.Match;
import vfio.api.device.Device;
import vfio.api.device.DeviceInfo;
import vfio.api.device.DeviceState;
import vfio.api.device.Irq;
import vfio.api.device.Region;
import vfio.api.device.RegionCapability.SparseArea;
import vfio.core.device.CoreDevice;
import vfio.core.device.DeviceSettings;
import vfio.core.dto.BackendDTO;
import vfio.core.dto.DeviceDTO;
import vfio.core.dto.IrqDTO;
import vfio.core.dto.RegionDTO;
import vfio.core.irq.DeviceIrq;
import vfio.core.region.DeviceRegion;

/**
 * Takes DTO snapshots of devices and backends. Works on any {@link Device} service through the
 * driver API, and adds what only the core knows (settings, state time, mapping switch, IRQ counts)
 * when the service is the core's own. Never waits for a binding.
 */
public final class Snapshots {
    private Snapshots() {
    }

    /** @return the device's snapshot */
    public static DeviceDTO device(Device d) {
        DeviceDTO dto = new DeviceDTO();
        dto.name = d.name();
        dto.address = d.address();
        dto.state = d.state().name();
        dto.reason = d.stateReason();
        dto.backend = d.backendId().orElse(null);
        if (d instanceof CoreDevice c) {
            CoreDevice.Status st = c.status();
            dto.state = st.state().name();
            dto.reason = st.reason();
            dto.backend = st.backendId();
            dto.since = st.since().toEpochMilli();
            DeviceSettings s = c.settings();
            dto.rebindPolicy = s.rebindPolicy().value();
            dto.backendTarget = s.backendTarget();
            dto.accessTimeoutMs = s.accessTimeout().toMillis();
        }
        knownInfo(d).ifPresent(i -> {
            dto.flags = i.flags();
            dto.numRegions = i.numRegions();
            dto.numIrqs = i.numIrqs();
        });
        return dto;
    }

    /** @return the device info if the device was ever bound, without waiting */
    public static Optional<DeviceInfo> knownInfo(Device d) {
        if (d instanceof CoreDevice c) {
            return c.knownInfo();
        }
        return d.state() == DeviceState.BOUND ? Optional.of(d.info()) : Optional.empty();
    }

    /** @return a snapshot of each region; empty if the device was never bound */
    public static List<RegionDTO> regions(Device d) {
        List<RegionDTO> out = new ArrayList<>();
        if (knownInfo(d).isEmpty()) {
            return out;
        }
        for (Region r : d.regions()) {
            RegionDTO dto = new RegionDTO();
            dto.index = r.index();
            dto.name = r.name();
            dto.size = r.size();
            dto.flags = r.info().flags();
            dto.mappingEnabled = !(r instanceof DeviceRegion dr) || dr.isMappingEnabled();
            List<SparseArea> mapped = r.mappedRanges();
            dto.mappedOffsets = new long[mapped.size()];
            dto.mappedSizes = new long[mapped.size()];
            for (int i = 0; i < mapped.size(); i++) {
                dto.mappedOffsets[i] = mapped.get(i).offset();
                dto.mappedSizes[i] = mapped.get(i).size();
            }
            out.add(dto);
        }
        return out;
    }

    /** @return a snapshot of each IRQ index; empty if the device was never bound */
    public static List<IrqDTO> irqs(Device d) {
        List<IrqDTO> out = new ArrayList<>();
        Optional<DeviceInfo> info = knownInfo(d);
        if (info.isEmpty()) {
            return out;
        }
        for (int i = 0; i < info.get().numIrqs(); i++) {
            Irq q = d.irq(i);
            IrqDTO dto = new IrqDTO();
            dto.index = q.index();
            dto.name = q.name();
            dto.flags = q.info().flags();
            dto.vectors = q.info().count();
            dto.enabled = q.enabledCount();
            if (q instanceof DeviceIrq di) {
                dto.counts = di.counts();
            } else {
                dto.counts = new long[dto.vectors];
                for (int v = 0; v < dto.vectors; v++) {
                    dto.counts[v] = q.count(v);
                }
            }
            out.add(dto);
        }
        return out;
    }

    /**
     * @param address the address asked about, or null
     * @param match   the factory's answer for it, or null
     */
    public static BackendDTO backend(String id, int ranking, long serviceId, String bundle, String address, Match match) {
        BackendDTO dto = new BackendDTO();
        dto.id = id;
        dto.ranking = ranking;
        dto.serviceId = serviceId;
        dto.bundle = bundle;
        if (address != null && match != null) {
            dto.address = address;
            dto.score = match.score();
            dto.reason = match.reason();
        }
        return dto;
    }
}
