/* The one op table, generated from ops.def. */
#include "ir.h"

#define OP(name) extern const ir_opdef op_##name;
#include "ops.def"
#undef OP

#define OP(name) &op_##name,
const ir_opdef *const ir_optable[OP__COUNT] = {
#include "ops.def"
};
#undef OP
