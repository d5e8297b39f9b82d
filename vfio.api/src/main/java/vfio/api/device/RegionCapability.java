package vfio.api.device;

import java.util.List;

/**
 * One entry of a region's capability chain ({@code VFIO_REGION_INFO_CAP_*}). Capabilities the API
 * does not model are carried as {@link Unknown} so nothing the backend reported is lost.
 */
public sealed interface RegionCapability {
    /** {@code VFIO_REGION_INFO_CAP_SPARSE_MMAP}. */
    int ID_SPARSE_MMAP = 1;
    /** {@code VFIO_REGION_INFO_CAP_TYPE}. */
    int ID_TYPE = 2;
    /** {@code VFIO_REGION_INFO_CAP_MSIX_MAPPABLE}. */
    int ID_MSIX_MAPPABLE = 3;

    /** @return the capability id */
    int id();

    /**
     * A byte range of the region that can be mapped.
     *
     * @param offset offset from the start of the region, in bytes
     * @param size   size in bytes (0 areas are legal in reports and ignored by the core)
     */
    record SparseArea(long offset, long size) {
        /** @return the first offset past the area (saturates instead of overflowing) */
        public long end() {
            long e = offset + size;
            return e < offset ? Long.MAX_VALUE : e;
        }
    }

    /**
     * Only these parts of a region can be mapped; the rest is reached by region read and write.
     *
     * @param areas the areas, as reported (possibly unsorted, possibly empty ones)
     */
    record SparseMmap(List<SparseArea> areas) implements RegionCapability {
        public SparseMmap {
            areas = List.copyOf(areas);
        }

        @Override
        public int id() {
            return ID_SPARSE_MMAP;
        }
    }

    /**
     * A device-specific region type ({@code struct vfio_region_info_cap_type}).
     *
     * @param type    type, e.g. {@code VFIO_REGION_TYPE_PCI_VENDOR_TYPE | vendor}
     * @param subtype subtype within the type
     */
    record Type(int type, int subtype) implements RegionCapability {
        @Override
        public int id() {
            return ID_TYPE;
        }
    }

    /** The MSI-X table in this region may be mapped (the kernel does not trap it). */
    record MsixMappable() implements RegionCapability {
        @Override
        public int id() {
            return ID_MSIX_MAPPABLE;
        }
    }

    /**
     * A capability this API version does not model.
     *
     * @param id      its id
     * @param version its version
     * @param body    its bytes after the header (a copy)
     */
    record Unknown(int id, int version, byte[] body) implements RegionCapability {
        public Unknown {
            body = body.clone();
        }

        @Override
        public byte[] body() {
            return body.clone();
        }
    }
}
