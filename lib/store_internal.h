/* The store handle's insides, for the handler and the in-tree stores (not exported: a custom
 * store is built with resumable_store_new alone; tests reach these through the static library).
 */
#ifndef RS_STORE_INTERNAL_H
#define RS_STORE_INTERNAL_H

#include "resumable/store.h"

/* The store's ops table: the library's own full-size copy, with every op the caller's
 * struct_size did not cover set to NULL. Lives as long as the store. */
const resumable_store_ops *resumable_store_ops_of(const resumable_store *store);

/* The `self` pointer the store was made with. */
void *resumable_store_self(const resumable_store *store);

#endif
