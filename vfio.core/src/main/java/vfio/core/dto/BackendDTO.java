package vfio.core.dto;

import org.osgi.dto.DTO;

/** A backend factory service, and how well it matches one address if one was asked about. */
public class BackendDTO extends DTO {
    /** {@code vfio.backend.id}. */
    public String id;
    /** {@code service.ranking} (0 if absent). */
    public int ranking;
    /** {@code service.id}. */
    public long serviceId;
    /** Symbolic name of the bundle that registered the factory. */
    public String bundle;
    /** The address the match was asked for; null if none was. */
    public String address;
    /** The match score for {@link #address} (0: cannot serve it); -1 if no address was given. */
    public int score = -1;
    /** The backend's reason or note for the match; null if no address was given. */
    public String reason;
}
