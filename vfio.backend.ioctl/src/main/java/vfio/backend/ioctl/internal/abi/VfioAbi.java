package vfio.backend.ioctl.internal.abi;

import java.util.LinkedHashMap;
import java.util.Map;
import vfio.posix.Ioctl;

/**
 * Every ioctl number, flag and struct layout of the Linux VFIO and iommufd user APIs that this
 * backend uses, in one place. Values are those of {@code include/uapi/linux/vfio.h} and {@code
 * include/uapi/linux/iommufd.h} on 64-bit Linux (x86_64, aarch64); {@link #layoutTable()} lists them
 * as C expressions, and a test compiles a C program against the system's {@code linux/vfio.h} that
 * prints the same expressions and compares (the iommufd, device-file and dma-buf definitions, newer
 * than the Linux 6.1 headers of the build machines, are copied into that program from the kernel's
 * uAPI).
 *
 * <p>All VFIO and iommufd requests are {@code _IO(';', nr)}: no size is encoded; each struct starts
 * with {@code argsz} (VFIO) or {@code size} (iommufd), which the kernel uses for versioning. Offsets
 * are in bytes, structs are little-endian on the supported platforms.
 */
public final class VfioAbi {
    private VfioAbi() {
    }

    /** {@code VFIO_TYPE}, also {@code IOMMUFD_TYPE}: the ioctl type character ';'. */
    public static final int VFIO_TYPE = ';';
    /** {@code VFIO_BASE}. */
    public static final int VFIO_BASE = 100;
    /** {@code VFIO_API_VERSION}: what {@link #VFIO_GET_API_VERSION} returns. */
    public static final int VFIO_API_VERSION = 0;

    // ---- container (/dev/vfio/vfio) ----
    public static final long VFIO_GET_API_VERSION = Ioctl.io(VFIO_TYPE, VFIO_BASE);
    public static final long VFIO_CHECK_EXTENSION = Ioctl.io(VFIO_TYPE, VFIO_BASE + 1);
    public static final long VFIO_SET_IOMMU = Ioctl.io(VFIO_TYPE, VFIO_BASE + 2);
    /** Extension and IOMMU type: the type1 IOMMU, version 2 (unmap semantics fixed). */
    public static final int VFIO_TYPE1v2_IOMMU = 3;
    /** Extension and IOMMU type: no IOMMU at all (unsafe; needs vfio.enable_unsafe_noiommu_mode=1). */
    public static final int VFIO_NOIOMMU_IOMMU = 8;

    // ---- group (/dev/vfio/N) ----
    public static final long VFIO_GROUP_GET_STATUS = Ioctl.io(VFIO_TYPE, VFIO_BASE + 3);
    public static final long VFIO_GROUP_SET_CONTAINER = Ioctl.io(VFIO_TYPE, VFIO_BASE + 4);
    public static final long VFIO_GROUP_UNSET_CONTAINER = Ioctl.io(VFIO_TYPE, VFIO_BASE + 5);
    public static final long VFIO_GROUP_GET_DEVICE_FD = Ioctl.io(VFIO_TYPE, VFIO_BASE + 6);
    /** {@code struct vfio_group_status {u32 argsz; u32 flags;}}. */
    public static final int GROUP_STATUS_SIZE = 8;
    public static final int GROUP_STATUS_FLAGS = 4;
    /** Every device of the group is bound to a VFIO driver (or to none). */
    public static final int VFIO_GROUP_FLAGS_VIABLE = 1;
    public static final int VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

    // ---- device ----
    public static final long VFIO_DEVICE_GET_INFO = Ioctl.io(VFIO_TYPE, VFIO_BASE + 7);
    public static final long VFIO_DEVICE_GET_REGION_INFO = Ioctl.io(VFIO_TYPE, VFIO_BASE + 8);
    public static final long VFIO_DEVICE_GET_IRQ_INFO = Ioctl.io(VFIO_TYPE, VFIO_BASE + 9);
    public static final long VFIO_DEVICE_SET_IRQS = Ioctl.io(VFIO_TYPE, VFIO_BASE + 10);
    public static final long VFIO_DEVICE_RESET = Ioctl.io(VFIO_TYPE, VFIO_BASE + 11);
    public static final long VFIO_DEVICE_FEATURE = Ioctl.io(VFIO_TYPE, VFIO_BASE + 17);

    /** {@code struct vfio_device_info} up to {@code cap_offset} (Linux 6.1 size; later kernels add padding). */
    public static final int DEVICE_INFO_SIZE = 20;
    public static final int DEVICE_INFO_FLAGS = 4;
    public static final int DEVICE_INFO_NUM_REGIONS = 8;
    public static final int DEVICE_INFO_NUM_IRQS = 12;

    /** {@code struct vfio_region_info {u32 argsz, flags, index, cap_offset; u64 size, offset;}}. */
    public static final int REGION_INFO_SIZE = 32;
    public static final int REGION_INFO_FLAGS = 4;
    public static final int REGION_INFO_INDEX = 8;
    public static final int REGION_INFO_CAP_OFFSET = 12;
    public static final int REGION_INFO_REGION_SIZE = 16;
    public static final int REGION_INFO_OFFSET = 24;
    /** {@code struct vfio_info_cap_header {u16 id, version; u32 next;}}. */
    public static final int CAP_HEADER_SIZE = 8;
    /** {@code struct vfio_region_info_cap_sparse_mmap}: header, u32 nr_areas, u32 reserved, areas[]. */
    public static final int SPARSE_MMAP_NR_AREAS = 8;
    public static final int SPARSE_MMAP_AREAS = 16;
    /** {@code struct vfio_region_sparse_mmap_area {u64 offset, size;}}. */
    public static final int SPARSE_MMAP_AREA_SIZE = 16;
    /** {@code struct vfio_region_info_cap_type}: header, u32 type, u32 subtype. */
    public static final int CAP_TYPE_SIZE = 16;

    /** {@code struct vfio_irq_info {u32 argsz, flags, index, count;}}. */
    public static final int IRQ_INFO_SIZE = 16;

    /** {@code struct vfio_irq_set {u32 argsz, flags, index, start, count; u8 data[];}}. */
    public static final int IRQ_SET_SIZE = 20;
    public static final int IRQ_SET_FLAGS = 4;
    public static final int IRQ_SET_INDEX = 8;
    public static final int IRQ_SET_START = 12;
    public static final int IRQ_SET_COUNT = 16;
    public static final int IRQ_SET_DATA = 20;
    public static final int VFIO_IRQ_SET_DATA_NONE = 1;
    public static final int VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
    public static final int VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
    public static final int VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
    public static final int VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
    public static final int VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;

    /** {@code struct vfio_device_feature {u32 argsz, flags; u8 data[];}}. */
    public static final int DEVICE_FEATURE_SIZE = 8;
    public static final int DEVICE_FEATURE_FLAGS = 4;
    public static final int DEVICE_FEATURE_DATA = 8;
    public static final int VFIO_DEVICE_FEATURE_MASK = 0xffff;
    public static final int VFIO_DEVICE_FEATURE_GET = 1 << 16;
    public static final int VFIO_DEVICE_FEATURE_SET = 1 << 17;
    public static final int VFIO_DEVICE_FEATURE_PROBE = 1 << 18;
    /** Feature 2: SET returns a migration data fd inside the payload. */
    public static final int VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE = 2;
    /** Feature 11 (Linux 6.19+): GET creates a dma-buf of BAR ranges; the ioctl returns its fd. */
    public static final int VFIO_DEVICE_FEATURE_DMA_BUF = 11;
    /**
     * {@code struct vfio_device_feature_dma_buf {u32 region_index, open_flags, flags, nr_ranges;
     * struct vfio_region_dma_range dma_ranges[];}}.
     */
    public static final int DMA_BUF_SIZE = 16;
    public static final int DMA_BUF_REGION_INDEX = 0;
    public static final int DMA_BUF_OPEN_FLAGS = 4;
    public static final int DMA_BUF_FLAGS = 8;
    public static final int DMA_BUF_NR_RANGES = 12;
    public static final int DMA_BUF_RANGES = 16;
    /** {@code struct vfio_region_dma_range {u64 offset, length;}}. */
    public static final int DMA_RANGE_SIZE = 16;

    // ---- type1 IOMMU (container) ----
    public static final long VFIO_IOMMU_MAP_DMA = Ioctl.io(VFIO_TYPE, VFIO_BASE + 13);
    public static final long VFIO_IOMMU_UNMAP_DMA = Ioctl.io(VFIO_TYPE, VFIO_BASE + 14);
    /** {@code struct vfio_iommu_type1_dma_map {u32 argsz, flags; u64 vaddr, iova, size;}}. */
    public static final int DMA_MAP_SIZE = 32;
    public static final int DMA_MAP_FLAGS = 4;
    public static final int DMA_MAP_VADDR = 8;
    public static final int DMA_MAP_IOVA = 16;
    public static final int DMA_MAP_LENGTH = 24;
    public static final int VFIO_DMA_MAP_FLAG_READ = 1;
    public static final int VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
    /** {@code struct vfio_iommu_type1_dma_unmap {u32 argsz, flags; u64 iova, size; u8 data[];}}. */
    public static final int DMA_UNMAP_SIZE = 24;
    public static final int DMA_UNMAP_FLAGS = 4;
    public static final int DMA_UNMAP_IOVA = 8;
    public static final int DMA_UNMAP_LENGTH = 16;

    // ---- VFIO device files (/dev/vfio/devices/vfioX, Linux 6.6+) ----
    public static final long VFIO_DEVICE_BIND_IOMMUFD = Ioctl.io(VFIO_TYPE, VFIO_BASE + 18);
    public static final long VFIO_DEVICE_ATTACH_IOMMUFD_PT = Ioctl.io(VFIO_TYPE, VFIO_BASE + 19);
    public static final long VFIO_DEVICE_DETACH_IOMMUFD_PT = Ioctl.io(VFIO_TYPE, VFIO_BASE + 20);
    /** {@code struct vfio_device_bind_iommufd {u32 argsz, flags; s32 iommufd; u32 out_devid;}}. */
    public static final int BIND_IOMMUFD_SIZE = 16;
    public static final int BIND_IOMMUFD_FD = 8;
    public static final int BIND_IOMMUFD_OUT_DEVID = 12;
    /**
     * {@code struct vfio_device_attach_iommufd_pt {u32 argsz, flags, pt_id;}} as of Linux 6.6; later
     * kernels append {@code pasid}, accepted only with a flag, so the 12-byte form stays valid.
     */
    public static final int ATTACH_PT_SIZE = 12;
    public static final int ATTACH_PT_ID = 8;

    // ---- iommufd (/dev/iommu) ----
    /** {@code IOMMUFD_CMD_BASE}. */
    public static final int IOMMUFD_CMD_BASE = 0x80;
    public static final long IOMMU_DESTROY = Ioctl.io(VFIO_TYPE, IOMMUFD_CMD_BASE);
    public static final long IOMMU_IOAS_ALLOC = Ioctl.io(VFIO_TYPE, IOMMUFD_CMD_BASE + 1);
    public static final long IOMMU_IOAS_MAP = Ioctl.io(VFIO_TYPE, IOMMUFD_CMD_BASE + 5);
    public static final long IOMMU_IOAS_UNMAP = Ioctl.io(VFIO_TYPE, IOMMUFD_CMD_BASE + 6);
    /** {@code struct iommu_destroy {u32 size, id;}}. */
    public static final int IOMMU_DESTROY_SIZE = 8;
    public static final int IOMMU_DESTROY_ID = 4;
    /** {@code struct iommu_ioas_alloc {u32 size, flags, out_ioas_id;}}. */
    public static final int IOAS_ALLOC_SIZE = 12;
    public static final int IOAS_ALLOC_OUT_ID = 8;
    /** {@code struct iommu_ioas_map {u32 size, flags, ioas_id, __reserved; u64 user_va, length, iova;}}. */
    public static final int IOAS_MAP_SIZE = 40;
    public static final int IOAS_MAP_FLAGS = 4;
    public static final int IOAS_MAP_IOAS_ID = 8;
    public static final int IOAS_MAP_USER_VA = 16;
    public static final int IOAS_MAP_LENGTH = 24;
    public static final int IOAS_MAP_IOVA = 32;
    public static final int IOMMU_IOAS_MAP_FIXED_IOVA = 1;
    public static final int IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
    public static final int IOMMU_IOAS_MAP_READABLE = 1 << 2;
    /** {@code struct iommu_ioas_unmap {u32 size, ioas_id; u64 iova, length;}}. */
    public static final int IOAS_UNMAP_SIZE = 24;
    public static final int IOAS_UNMAP_IOAS_ID = 4;
    public static final int IOAS_UNMAP_IOVA = 8;
    public static final int IOAS_UNMAP_LENGTH = 16;

    /** The file offset where vfio-pci places region {@code index} (informational; the kernel reports it). */
    public static long vfioPciRegionOffset(int index) {
        return (long) index << 40;
    }

    /**
     * The constants above as C expressions and the values this class uses, for the test that checks
     * them against the C headers. Keys are expressions a C compiler evaluates with {@code
     * <linux/vfio.h>} and the iommufd declarations included.
     *
     * @return expression to value, in a stable order
     */
    public static Map<String, Long> layoutTable() {
        Map<String, Long> t = new LinkedHashMap<>();
        t.put("VFIO_TYPE", (long) VFIO_TYPE);
        t.put("VFIO_BASE", (long) VFIO_BASE);
        t.put("VFIO_API_VERSION", (long) VFIO_API_VERSION);
        t.put("VFIO_GET_API_VERSION", VFIO_GET_API_VERSION);
        t.put("VFIO_CHECK_EXTENSION", VFIO_CHECK_EXTENSION);
        t.put("VFIO_SET_IOMMU", VFIO_SET_IOMMU);
        t.put("VFIO_TYPE1v2_IOMMU", (long) VFIO_TYPE1v2_IOMMU);
        t.put("VFIO_NOIOMMU_IOMMU", (long) VFIO_NOIOMMU_IOMMU);
        t.put("VFIO_GROUP_GET_STATUS", VFIO_GROUP_GET_STATUS);
        t.put("VFIO_GROUP_SET_CONTAINER", VFIO_GROUP_SET_CONTAINER);
        t.put("VFIO_GROUP_UNSET_CONTAINER", VFIO_GROUP_UNSET_CONTAINER);
        t.put("VFIO_GROUP_GET_DEVICE_FD", VFIO_GROUP_GET_DEVICE_FD);
        t.put("sizeof(struct vfio_group_status)", (long) GROUP_STATUS_SIZE);
        t.put("offsetof(struct vfio_group_status, flags)", (long) GROUP_STATUS_FLAGS);
        t.put("VFIO_GROUP_FLAGS_VIABLE", (long) VFIO_GROUP_FLAGS_VIABLE);
        t.put("VFIO_GROUP_FLAGS_CONTAINER_SET", (long) VFIO_GROUP_FLAGS_CONTAINER_SET);

        t.put("VFIO_DEVICE_GET_INFO", VFIO_DEVICE_GET_INFO);
        t.put("VFIO_DEVICE_GET_REGION_INFO", VFIO_DEVICE_GET_REGION_INFO);
        t.put("VFIO_DEVICE_GET_IRQ_INFO", VFIO_DEVICE_GET_IRQ_INFO);
        t.put("VFIO_DEVICE_SET_IRQS", VFIO_DEVICE_SET_IRQS);
        t.put("VFIO_DEVICE_RESET", VFIO_DEVICE_RESET);
        t.put("VFIO_DEVICE_FEATURE", VFIO_DEVICE_FEATURE);
        t.put("offsetof(struct vfio_device_info, cap_offset) + 4", (long) DEVICE_INFO_SIZE);
        t.put("offsetof(struct vfio_device_info, flags)", (long) DEVICE_INFO_FLAGS);
        t.put("offsetof(struct vfio_device_info, num_regions)", (long) DEVICE_INFO_NUM_REGIONS);
        t.put("offsetof(struct vfio_device_info, num_irqs)", (long) DEVICE_INFO_NUM_IRQS);
        t.put("sizeof(struct vfio_region_info)", (long) REGION_INFO_SIZE);
        t.put("offsetof(struct vfio_region_info, flags)", (long) REGION_INFO_FLAGS);
        t.put("offsetof(struct vfio_region_info, index)", (long) REGION_INFO_INDEX);
        t.put("offsetof(struct vfio_region_info, cap_offset)", (long) REGION_INFO_CAP_OFFSET);
        t.put("offsetof(struct vfio_region_info, size)", (long) REGION_INFO_REGION_SIZE);
        t.put("offsetof(struct vfio_region_info, offset)", (long) REGION_INFO_OFFSET);
        t.put("sizeof(struct vfio_info_cap_header)", (long) CAP_HEADER_SIZE);
        t.put("offsetof(struct vfio_region_info_cap_sparse_mmap, nr_areas)", (long) SPARSE_MMAP_NR_AREAS);
        t.put("offsetof(struct vfio_region_info_cap_sparse_mmap, areas)", (long) SPARSE_MMAP_AREAS);
        t.put("sizeof(struct vfio_region_sparse_mmap_area)", (long) SPARSE_MMAP_AREA_SIZE);
        t.put("sizeof(struct vfio_region_info_cap_type)", (long) CAP_TYPE_SIZE);
        t.put("VFIO_REGION_INFO_CAP_SPARSE_MMAP", 1L);
        t.put("VFIO_REGION_INFO_CAP_TYPE", 2L);
        t.put("VFIO_REGION_INFO_CAP_MSIX_MAPPABLE", 3L);
        t.put("sizeof(struct vfio_irq_info)", (long) IRQ_INFO_SIZE);
        t.put("sizeof(struct vfio_irq_set)", (long) IRQ_SET_SIZE);
        t.put("offsetof(struct vfio_irq_set, flags)", (long) IRQ_SET_FLAGS);
        t.put("offsetof(struct vfio_irq_set, index)", (long) IRQ_SET_INDEX);
        t.put("offsetof(struct vfio_irq_set, start)", (long) IRQ_SET_START);
        t.put("offsetof(struct vfio_irq_set, count)", (long) IRQ_SET_COUNT);
        t.put("offsetof(struct vfio_irq_set, data)", (long) IRQ_SET_DATA);
        t.put("VFIO_IRQ_SET_DATA_NONE", (long) VFIO_IRQ_SET_DATA_NONE);
        t.put("VFIO_IRQ_SET_DATA_BOOL", (long) VFIO_IRQ_SET_DATA_BOOL);
        t.put("VFIO_IRQ_SET_DATA_EVENTFD", (long) VFIO_IRQ_SET_DATA_EVENTFD);
        t.put("VFIO_IRQ_SET_ACTION_MASK", (long) VFIO_IRQ_SET_ACTION_MASK);
        t.put("VFIO_IRQ_SET_ACTION_UNMASK", (long) VFIO_IRQ_SET_ACTION_UNMASK);
        t.put("VFIO_IRQ_SET_ACTION_TRIGGER", (long) VFIO_IRQ_SET_ACTION_TRIGGER);
        t.put("sizeof(struct vfio_device_feature)", (long) DEVICE_FEATURE_SIZE);
        t.put("offsetof(struct vfio_device_feature, flags)", (long) DEVICE_FEATURE_FLAGS);
        t.put("offsetof(struct vfio_device_feature, data)", (long) DEVICE_FEATURE_DATA);
        t.put("VFIO_DEVICE_FEATURE_MASK", (long) VFIO_DEVICE_FEATURE_MASK);
        t.put("VFIO_DEVICE_FEATURE_GET", (long) VFIO_DEVICE_FEATURE_GET);
        t.put("VFIO_DEVICE_FEATURE_SET", (long) VFIO_DEVICE_FEATURE_SET);
        t.put("VFIO_DEVICE_FEATURE_PROBE", (long) VFIO_DEVICE_FEATURE_PROBE);
        t.put("VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE", (long) VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
        t.put("VFIO_DEVICE_FEATURE_DMA_BUF", (long) VFIO_DEVICE_FEATURE_DMA_BUF);
        t.put("sizeof(struct vfio_device_feature_dma_buf)", (long) DMA_BUF_SIZE);
        t.put("offsetof(struct vfio_device_feature_dma_buf, region_index)", (long) DMA_BUF_REGION_INDEX);
        t.put("offsetof(struct vfio_device_feature_dma_buf, open_flags)", (long) DMA_BUF_OPEN_FLAGS);
        t.put("offsetof(struct vfio_device_feature_dma_buf, flags)", (long) DMA_BUF_FLAGS);
        t.put("offsetof(struct vfio_device_feature_dma_buf, nr_ranges)", (long) DMA_BUF_NR_RANGES);
        t.put("offsetof(struct vfio_device_feature_dma_buf, dma_ranges)", (long) DMA_BUF_RANGES);
        t.put("sizeof(struct vfio_region_dma_range)", (long) DMA_RANGE_SIZE);

        t.put("VFIO_IOMMU_MAP_DMA", VFIO_IOMMU_MAP_DMA);
        t.put("VFIO_IOMMU_UNMAP_DMA", VFIO_IOMMU_UNMAP_DMA);
        t.put("sizeof(struct vfio_iommu_type1_dma_map)", (long) DMA_MAP_SIZE);
        t.put("offsetof(struct vfio_iommu_type1_dma_map, flags)", (long) DMA_MAP_FLAGS);
        t.put("offsetof(struct vfio_iommu_type1_dma_map, vaddr)", (long) DMA_MAP_VADDR);
        t.put("offsetof(struct vfio_iommu_type1_dma_map, iova)", (long) DMA_MAP_IOVA);
        t.put("offsetof(struct vfio_iommu_type1_dma_map, size)", (long) DMA_MAP_LENGTH);
        t.put("VFIO_DMA_MAP_FLAG_READ", (long) VFIO_DMA_MAP_FLAG_READ);
        t.put("VFIO_DMA_MAP_FLAG_WRITE", (long) VFIO_DMA_MAP_FLAG_WRITE);
        t.put("sizeof(struct vfio_iommu_type1_dma_unmap)", (long) DMA_UNMAP_SIZE);
        t.put("offsetof(struct vfio_iommu_type1_dma_unmap, flags)", (long) DMA_UNMAP_FLAGS);
        t.put("offsetof(struct vfio_iommu_type1_dma_unmap, iova)", (long) DMA_UNMAP_IOVA);
        t.put("offsetof(struct vfio_iommu_type1_dma_unmap, size)", (long) DMA_UNMAP_LENGTH);

        t.put("VFIO_DEVICE_BIND_IOMMUFD", VFIO_DEVICE_BIND_IOMMUFD);
        t.put("VFIO_DEVICE_ATTACH_IOMMUFD_PT", VFIO_DEVICE_ATTACH_IOMMUFD_PT);
        t.put("VFIO_DEVICE_DETACH_IOMMUFD_PT", VFIO_DEVICE_DETACH_IOMMUFD_PT);
        // Later kernels append fields (a token pointer); the part this backend writes is fixed.
        t.put("offsetof(struct vfio_device_bind_iommufd, out_devid) + 4", (long) BIND_IOMMUFD_SIZE);
        t.put("offsetof(struct vfio_device_bind_iommufd, iommufd)", (long) BIND_IOMMUFD_FD);
        t.put("offsetof(struct vfio_device_bind_iommufd, out_devid)", (long) BIND_IOMMUFD_OUT_DEVID);
        t.put("offsetof(struct vfio_device_attach_iommufd_pt, pt_id) + 4", (long) ATTACH_PT_SIZE);
        t.put("offsetof(struct vfio_device_attach_iommufd_pt, pt_id)", (long) ATTACH_PT_ID);

        t.put("IOMMUFD_TYPE", (long) VFIO_TYPE);
        t.put("IOMMU_DESTROY", IOMMU_DESTROY);
        t.put("IOMMU_IOAS_ALLOC", IOMMU_IOAS_ALLOC);
        t.put("IOMMU_IOAS_MAP", IOMMU_IOAS_MAP);
        t.put("IOMMU_IOAS_UNMAP", IOMMU_IOAS_UNMAP);
        t.put("sizeof(struct iommu_destroy)", (long) IOMMU_DESTROY_SIZE);
        t.put("offsetof(struct iommu_destroy, id)", (long) IOMMU_DESTROY_ID);
        t.put("sizeof(struct iommu_ioas_alloc)", (long) IOAS_ALLOC_SIZE);
        t.put("offsetof(struct iommu_ioas_alloc, out_ioas_id)", (long) IOAS_ALLOC_OUT_ID);
        t.put("sizeof(struct iommu_ioas_map)", (long) IOAS_MAP_SIZE);
        t.put("offsetof(struct iommu_ioas_map, flags)", (long) IOAS_MAP_FLAGS);
        t.put("offsetof(struct iommu_ioas_map, ioas_id)", (long) IOAS_MAP_IOAS_ID);
        t.put("offsetof(struct iommu_ioas_map, user_va)", (long) IOAS_MAP_USER_VA);
        t.put("offsetof(struct iommu_ioas_map, length)", (long) IOAS_MAP_LENGTH);
        t.put("offsetof(struct iommu_ioas_map, iova)", (long) IOAS_MAP_IOVA);
        t.put("IOMMU_IOAS_MAP_FIXED_IOVA", (long) IOMMU_IOAS_MAP_FIXED_IOVA);
        t.put("IOMMU_IOAS_MAP_WRITEABLE", (long) IOMMU_IOAS_MAP_WRITEABLE);
        t.put("IOMMU_IOAS_MAP_READABLE", (long) IOMMU_IOAS_MAP_READABLE);
        t.put("sizeof(struct iommu_ioas_unmap)", (long) IOAS_UNMAP_SIZE);
        t.put("offsetof(struct iommu_ioas_unmap, ioas_id)", (long) IOAS_UNMAP_IOAS_ID);
        t.put("offsetof(struct iommu_ioas_unmap, iova)", (long) IOAS_UNMAP_IOVA);
        t.put("offsetof(struct iommu_ioas_unmap, length)", (long) IOAS_UNMAP_LENGTH);
        return t;
    }
}
