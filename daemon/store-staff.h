/*
 * store-staff.h: the SQL of a body's staff directory (staff.add,
 * staff.list). Staff are the body's employees, not data subjects; a staff
 * member with a Unix user is who the "staff" role sees requests for.
 */
#ifndef DSR_STORE_STAFF_H
#define DSR_STORE_STAFF_H

#include <time.h>

#include "store.h"

struct staff_in {
	const char	*entity;
	const char	*name;
	const char	*email;		/* NULL: none */
	const char	*office;	/* NULL: none; created when new */
	const char	*user;		/* Unix user name, NULL: none */
};
/* json: the staff member; E_NOT_FOUND (body), E_CONFLICT (name taken). */
void	store_staff_add(struct db *, const struct staff_in *,
	    const struct actor *, time_t now, store_cb *, void *);
/* json: {"staff": [...], "count": n}; E_NOT_FOUND for an unknown body. */
void	store_staff_list(struct db *, const char *entity, const char *office,
	    store_cb *, void *);

#endif
