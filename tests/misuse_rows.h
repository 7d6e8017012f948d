/*
 * The rows of the misuse sweep (tests/test_misuse.c), one per public
 * function: ROW(function, message word or NULL, argument letters, how it
 * fails, what a getter gives for NULL, the call).  The call uses P(k, v),
 * N(k, v), Z(k, v), ... for argument k with its valid value v; the letters
 * and the failure kinds are explained in test_misuse.c.  A var the call
 * builds for an argument (anything but the fixture's f->a, f->b, ...) is
 * wrapped in H(...), so that the stale-handle sweep can pass the handle
 * from before a reset instead; a call made only to prepare the state the
 * function reads goes in PREP(...), which that sweep skips.
 */

/* ------------------------------------------------------------- core.h */
ROW(adj_status_string, NULL, "e", 'g', NULL,
    o->ptr = adj_status_string(E(0, adj_status, ADJ_ESHAPE)); ck_assert_ptr_nonnull(o->ptr))
ROW(adj_dtype_name, NULL, "e", 'g', NULL,
    o->ptr = adj_dtype_name(E(0, adj_dtype, ADJ_F32)); ck_assert_ptr_nonnull(o->ptr))
ROW(adj_get_threads, NULL, "", 'g', NULL, o->num = adj_get_threads(); ck_assert_int_ge(o->num, 1))
ROW(adj_version, NULL, "", 'g', NULL, o->ptr = adj_version(); ck_assert_ptr_nonnull(o->ptr))
ROW(adj_runtime_info, NULL, "P", 's', NULL, adj_runtime r; o->st = adj_runtime_info(P(0, &r)))
ROW(adj_tape_new, NULL, "", 'o', NULL, adj_tape *t = adj_tape_new(); o->ptr = t; adj_tape_free(t))
ROW(adj_tape_new_with, NULL, "p", 'o', NULL,
    adj_tape *t = adj_tape_new_with(P(0, &f->al)); o->ptr = t; adj_tape_free(t))
ROW(adj_tape_reset, NULL, "p", '-', NULL, adj_tape_reset(P(0, f->t)))
ROW(adj_tape_free, NULL, "p", '-', NULL,
    adj_tape *t = adj_tape_new(); adj_tape_free(P(0, t)); if (m->arg == 0) adj_tape_free(t))
ROW(adj_tape_status, NULL, "P", 'g', "1", o->num = adj_tape_status(P(0, f->t)))
ROW(adj_tape_message, NULL, "P", 'g', NULL,
    o->ptr = adj_tape_message(P(0, f->t)); ck_assert_ptr_nonnull(o->ptr))
ROW(adj_tape_set_error_hook, NULL, "Ppp", '-', NULL,
    adj_tape_set_error_hook(P(0, f->t), P(1, (adj_error_hook)NULL), P(2, (void *)f)))
ROW(adj_tape_set_limit, NULL, "Pz", '-', NULL,
    adj_tape_set_limit(P(0, f->t), Z(1, 1 << 20)); o->ptr = adj_add(f->a, f->b))
ROW(adj_tape_set_anomaly, NULL, "Pn", '-', NULL,
    adj_tape_set_anomaly(P(0, f->t), N(1, 1)); o->ptr = adj_add(f->a, f->b))
ROW(adj_tape_get_stats, NULL, "PP", '-', NULL, adj_tape_get_stats(P(0, f->t), P(1, &f->stats)))
ROW(adj_tape_size, NULL, "P", 'g', "0", o->num = (double)adj_tape_size(P(0, f->t)))
ROW(adj_tape_node, NULL, "Pz", 'g', "null", o->ptr = adj_tape_node(P(0, f->t), Z(1, 1)))
ROW(adj_scalar_at, NULL, "Vd..", 't', NULL, o->ptr = adj_scalar_at(P(0, f->t), D(1, 2.0), __FILE__, __LINE__))
ROW(adj_tensor_f64_at, NULL, "VnYp..", 't', NULL,
    o->ptr = adj_tensor_f64_at(P(0, f->t), N(1, 2), Y(2, shape22), P(3, zeros), __FILE__, __LINE__))
ROW(adj_tensor_f32_at, NULL, "VnYp..", 't', NULL,
    o->ptr = adj_tensor_f32_at(P(0, f->t), N(1, 2), Y(2, shape22), P(3, (const float *)zeros), __FILE__, __LINE__))
ROW(adj_constant_f64_at, NULL, "VnYp..", 't', NULL,
    o->ptr = adj_constant_f64_at(P(0, f->t), N(1, 2), Y(2, shape22), P(3, zeros), __FILE__, __LINE__))
ROW(adj_constant_f32_at, NULL, "VnYp..", 't', NULL,
    o->ptr = adj_constant_f32_at(P(0, f->t), N(1, 2), Y(2, shape22), P(3, (const float *)zeros), __FILE__, __LINE__))
ROW(adj_constant_view_at, "adj_constant_view", "VenYP..", 't', NULL,
    o->ptr = adj_constant_view_at(P(0, f->t), E(1, adj_dtype, ADJ_F64), N(2, 2), Y(3, shape22),
                                  P(4, (const void *)zeros), __FILE__, __LINE__))
ROW(adj_tensor_view_at, "adj_tensor_view", "VenYP..", 't', NULL,
    o->ptr = adj_tensor_view_at(P(0, f->t), E(1, adj_dtype, ADJ_F64), N(2, 2), Y(3, shape22),
                                P(4, (const void *)zeros), __FILE__, __LINE__))
ROW(adj_leaf_at, "adj_leaf", "VenYp...", 't', NULL,
    o->ptr = adj_leaf_at(P(0, f->t), E(1, adj_dtype, ADJ_F64), N(2, 2), Y(3, shape22),
                         P(4, (const void *)zeros), 1, __FILE__, __LINE__))
ROW(adj_index_at, NULL, "VnYp..", 't', NULL,
    o->ptr = adj_index_at(P(0, f->t), N(1, 1), Y(2, shape2), P(3, labels01), __FILE__, __LINE__))
ROW(adj_index_view_at, "adj_constant_view", "VnYP..", 't', NULL,
    o->ptr = adj_index_view_at(P(0, f->t), N(1, 1), Y(2, shape2), P(3, labels01), __FILE__, __LINE__))
ROW(adj_index, NULL, "VnYp", 't', NULL, o->ptr = (adj_index)(P(0, f->t), N(1, 1), Y(2, shape2), P(3, labels01)))
ROW(adj_index_view, "adj_constant_view", "VnYP", 't', NULL,
    o->ptr = (adj_index_view)(P(0, f->t), N(1, 1), Y(2, shape2), P(3, labels01)))
ROW(adj_scalar, NULL, "Vd", 't', NULL, o->ptr = (adj_scalar)(P(0, f->t), D(1, 2.0)))
ROW(adj_tensor_f64, NULL, "VnYp", 't', NULL,
    o->ptr = (adj_tensor_f64)(P(0, f->t), N(1, 2), Y(2, shape22), P(3, zeros)))
ROW(adj_tensor_f32, NULL, "VnYp", 't', NULL,
    o->ptr = (adj_tensor_f32)(P(0, f->t), N(1, 2), Y(2, shape22), P(3, (const float *)zeros)))
ROW(adj_constant_f64, NULL, "VnYp", 't', NULL,
    o->ptr = (adj_constant_f64)(P(0, f->t), N(1, 2), Y(2, shape22), P(3, zeros)))
ROW(adj_constant_f32, NULL, "VnYp", 't', NULL,
    o->ptr = (adj_constant_f32)(P(0, f->t), N(1, 2), Y(2, shape22), P(3, (const float *)zeros)))
ROW(adj_numel, NULL, "P", 'g', "0", o->num = (double)adj_numel(P(0, f->a)))
ROW(adj_ndim, NULL, "P", 'g', "-1", o->num = adj_ndim(P(0, f->a)))
ROW(adj_dim, NULL, "Pn", 'g', "-1", o->num = (double)adj_dim(P(0, f->a), N(1, 1)))
ROW(adj_var_dtype, NULL, "P", 'g', "1", o->num = adj_var_dtype(P(0, f->f32)))
ROW(adj_var_tape, NULL, "P", 'g', "null", o->ptr = adj_var_tape(P(0, f->a)))
ROW(adj_var_id, NULL, "P", 'g', "0", o->num = (double)adj_var_id(P(0, f->b)))
ROW(adj_requires_grad, NULL, "P", 'g', "0", o->num = adj_requires_grad(P(0, f->a)))
ROW(adj_value_at, NULL, "Pz", 'g', "nan", o->num = adj_value_at(P(0, f->a), Z(1, 3)))
ROW(adj_grad_at, NULL, "Pz", 'g', "nan", o->num = adj_grad_at(P(0, f->a), Z(1, 3)))
ROW(adj_item, NULL, "P", 'g', "nan", o->num = adj_item(P(0, f->s)))
ROW(adj_grad_item, NULL, "P", 'g', "nan", o->num = adj_grad_item(P(0, f->s)))
ROW(adj_data, NULL, "P", 'g', "null", o->ptr = adj_data(P(0, f->a)))
ROW(adj_grad_data, NULL, "P", 'g', "null", o->ptr = adj_grad_data(P(0, f->a)))
ROW(adj_copy_value, NULL, "PP", 's', NULL, o->st = adj_copy_value(P(0, f->a), P(1, f->buf)))
ROW(adj_copy_grad, NULL, "PP", 's', NULL, o->st = adj_copy_grad(P(0, f->a), P(1, f->buf)))
ROW(adj_shape_string, NULL, "pPk", '-', NULL,
    adj_shape_string(P(0, f->a), P(1, f->shape), Z(2, sizeof f->shape)))
ROW(adj_backward, NULL, "V", 'T', NULL, o->st = adj_backward(P(0, H(adj_sum(f->m22)))))
ROW(adj_backward_seeded, "adj_backward", "VP", 'T', NULL,
    o->st = adj_backward_seeded(P(0, f->m22), P(1, ((const double[]){1, 2, 3, 4}))))
ROW(adj_backward_seeded_as, "adj_backward", "VeP", 'T', NULL,
    o->st = adj_backward_seeded_as(P(0, f->m22), E(1, adj_dtype, ADJ_F64),
                                   P(2, ((const double[]){1, 2, 3, 4}))))
ROW(adj_backward_seeded_view, "adj_backward", "VeP", 'T', NULL,
    o->st = adj_backward_seeded_view(P(0, f->m22), E(1, adj_dtype, ADJ_F64),
                                     P(2, ((const double[]){1, 2, 3, 4}))))
/* double backward */
ROW(adj_backward_ex, NULL, "Vp", 'T', NULL,
    o->st = adj_backward_ex(P(0, H(adj_sum(f->m22))), P(1, (&(const adj_backward_opts){.create_graph = 1}))))
ROW(adj_grad_var, NULL, "P", 'g', "null",
    PREP(adj_backward_ex(adj_sum(f->m22), &(const adj_backward_opts){.create_graph = 1}));
    o->ptr = adj_grad_var(P(0, f->a)))
ROW(adj_grad, NULL, "VcPPp", 'T', NULL,
    adj_var *xs[1] = {f->a}; adj_var *gs[1];
    o->st = adj_grad(P(0, H(adj_sum(f->m22))), N(1, 1), P(2, (adj_var *const *)xs), P(3, gs),
                     P(4, (&(const adj_backward_opts){.create_graph = 1}))))
ROW(adj_params_new, NULL, "e", 'o', NULL,
    adj_params *p = adj_params_new(E(0, adj_dtype, ADJ_F32)); o->ptr = p; adj_params_free(p))
ROW(adj_params_new_with, NULL, "ep", 'o', NULL,
    adj_params *p = adj_params_new_with(E(0, adj_dtype, ADJ_F32), P(1, &f->al)); o->ptr = p;
    adj_params_free(p))
ROW(adj_params_free, NULL, "p", '-', NULL,
    adj_params *p = adj_params_new(ADJ_F64); adj_params_free(P(0, p)); if (m->arg == 0) adj_params_free(p))
ROW(adj_params_add, NULL, "VpnY", 'q', NULL,
    o->ret = adj_params_add(P(0, f->p), P(1, "c"), N(2, 2), Y(3, shape22));
    snprintf(o->msg, sizeof o->msg, "%s", adj_params_message(f->p)))
ROW(adj_params_status, NULL, "P", 'g', "1", o->num = adj_params_status(P(0, f->p)))
ROW(adj_params_message, NULL, "P", 'g', NULL,
    o->ptr = adj_params_message(P(0, f->p)); ck_assert_ptr_nonnull(o->ptr))
ROW(adj_params_count, NULL, "P", 'g', "0", o->num = adj_params_count(P(0, f->p)))
ROW(adj_params_dtype, NULL, "P", 'g', "1", o->num = adj_params_dtype(P(0, f->p)))
ROW(adj_params_numel, NULL, "P", 'g', "0", o->num = (double)adj_params_numel(P(0, f->p)))
ROW(adj_params_tensor_numel, NULL, "Pn", 'g', "0", o->num = (double)adj_params_tensor_numel(P(0, f->p), N(1, 1)))
ROW(adj_params_tensor_ndim, NULL, "Pn", 'g', "-1", o->num = adj_params_tensor_ndim(P(0, f->p), N(1, 1)))
ROW(adj_params_tensor_shape, NULL, "Pn", 'g', "null", o->ptr = adj_params_tensor_shape(P(0, f->p), N(1, 1)))
ROW(adj_params_tensor_name, NULL, "Pn", 'g', "null", o->ptr = adj_params_tensor_name(P(0, f->p), N(1, 1)))
ROW(adj_params_offset, NULL, "Pn", 'g', "0", o->num = (double)adj_params_offset(P(0, f->p), N(1, 1)))
ROW(adj_params_values, NULL, "P", 'g', "null", o->ptr = adj_params_values(P(0, f->p)))
ROW(adj_params_grads, NULL, "P", 'g', "null", o->ptr = adj_params_grads(P(0, f->p)))
ROW(adj_params_value, NULL, "Pn", 'g', "null", o->ptr = adj_params_value(P(0, f->p), N(1, 1)))
ROW(adj_params_grad, NULL, "Pn", 'g', "null", o->ptr = adj_params_grad(P(0, f->p), N(1, 1)))
ROW(adj_params_zero_grad, NULL, "p", '-', NULL, adj_params_zero_grad(P(0, f->p)))
ROW(adj_params_zero_grad_lazy, NULL, "p", '-', NULL, adj_params_zero_grad_lazy(P(0, f->p)))
ROW(adj_param_at, "adj_param", "VPn..", 't', NULL,
    o->ptr = adj_param_at(P(0, f->t), P(1, f->p), N(2, 1), __FILE__, __LINE__))
ROW(adj_param, NULL, "VPn", 't', NULL, o->ptr = (adj_param)(P(0, f->t), P(1, f->p), N(2, 1)))
ROW(adj_set_threads, NULL, "n", '-', NULL,
    adj_set_threads(N(0, 2)); o->ptr = adj_matmul(f->a, f->b); adj_set_threads(1);
    ck_assert_int_eq(adj_tape_status(f->t), ADJ_OK))

/* -------------------------------------------------------------- rng.h */
ROW(adj_rng_seed, NULL, "p.", '-', NULL, adj_rng_seed(P(0, &f->rng), 9))
ROW(adj_rng_next, NULL, "P", 'g', "0", o->num = (double)adj_rng_next(P(0, &f->rng)))
ROW(adj_rng_uniform, NULL, "P", 'g', "nan", o->num = adj_rng_uniform(P(0, &f->rng)))
ROW(adj_rng_uniform_range, NULL, "Pdd", 'g', "nan",
    o->num = adj_rng_uniform_range(P(0, &f->rng), D(1, -1), D(2, 1)))
ROW(adj_rng_normal, NULL, "P", 'g', "nan", o->num = adj_rng_normal(P(0, &f->rng)))
ROW(adj_rng_below, NULL, "P.", 'g', "0", o->num = (double)adj_rng_below(P(0, &f->rng), 10))
ROW(adj_rng_shuffle, NULL, "PPk", '-', NULL, adj_rng_shuffle(P(0, &f->rng), P(1, f->order), Z(2, 8)))

/* ------------------------------------------------------------ optim.h */
ROW(adj_optim_defaults, NULL, "e", 'g', NULL,
    adj_optim_config c = adj_optim_defaults(E(0, adj_optim_kind, ADJ_OPTIM_SGD)); o->num = c.lr)
ROW(adj_optim_name, NULL, "e", 'g', NULL,
    o->ptr = adj_optim_name(E(0, adj_optim_kind, ADJ_OPTIM_ADAM)); ck_assert_ptr_nonnull(o->ptr))
ROW(adj_optim_parse, NULL, "SP", 's', NULL,
    adj_optim_kind k; o->st = adj_optim_parse(S(0, "adamw"), P(1, &k)))
ROW(adj_optim_new, NULL, "PPp", 'o', NULL,
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_SGD); adj_status st;
    adj_optim *x = adj_optim_new(P(0, f->p), P(1, &c), P(2, &st)); o->ptr = x; adj_optim_free(x))
ROW(adj_optim_new_with, NULL, "PPpp", 'o', NULL,
    adj_optim_config c = adj_optim_defaults(ADJ_OPTIM_RMSPROP); adj_status st;
    adj_optim *x = adj_optim_new_with(P(0, f->p), P(1, &c), P(2, &f->al), P(3, &st)); o->ptr = x;
    adj_optim_free(x))
ROW(adj_optim_free, NULL, "p", '-', NULL,
    adj_optim_free(P(0, f->opt)); if (m->arg < 0) f->opt = NULL)
ROW(adj_optim_step, NULL, "P", 's', NULL, o->st = adj_optim_step(P(0, f->opt)))
/* optimizer state files (trainer) */
ROW(adj_optim_state_write, NULL, "PPv", 'e', NULL,
    adj_st_writer *w = st_writer(); o->st = adj_optim_state_write(P(0, f->opt), P(1, w), P(2, &f->err));
    adj_st_writer_free(w); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_optim_state_read, NULL, "PPpv", 'e', NULL,
    adj_st_writer *w = st_writer(); void *b = NULL; size_t n = 0; adj_safetensors *sf = NULL;
    PREP(adj_optim_state_write(f->opt, w, NULL); adj_st_writer_encode(w, &b, &n, NULL);
         adj_st_parse(b, n, "state", &sf, NULL));
    o->st = adj_optim_state_read(P(0, f->opt), P(1, (const adj_safetensors *)sf), P(2, "state"), P(3, &f->err));
    adj_st_free(sf); free(b); adj_st_writer_free(w); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_optim_set_lr, NULL, "Pd", '-', NULL,
    adj_optim_set_lr(P(0, f->opt), D(1, 0.5)))
ROW(adj_optim_lr, NULL, "P", 'g', "0", o->num = adj_optim_lr(P(0, f->opt)))
ROW(adj_optim_steps, NULL, "P", 'g', "0", o->num = (double)adj_optim_steps(P(0, f->opt)))
ROW(adj_optim_get_config, NULL, "P", 'g', "null", o->ptr = adj_optim_get_config(P(0, f->opt)))
ROW(adj_clip_grad_value, NULL, "Pd", 's', NULL, o->st = adj_clip_grad_value(P(0, f->p), D(1, 1.0)))
ROW(adj_clip_grad_norm, NULL, "Pd", 'g', "0", o->num = adj_clip_grad_norm(P(0, f->p), D(1, 1.0)))
ROW(adj_grad_norm, NULL, "P", 'g', "0", o->num = adj_grad_norm(P(0, f->p)))
ROW(adj_lr_at, NULL, "Pl", 'g', "0",
    adj_lr_schedule s = {.kind = ADJ_LR_COSINE, .base_lr = 0.1, .total = 10, .warmup = 2};
    o->num = adj_lr_at(P(0, &s), L(1, 3)))

/* -------------------------------------------------------------- ops.h */
#define BINARY(op)                                                                               \
    ROW(op##_at, NULL, "VV..", 't', NULL, o->ptr = op##_at(P(0, f->a), P(1, f->b), __FILE__, __LINE__)) \
    ROW(op, NULL, "VV", 't', NULL, o->ptr = (op)(P(0, f->a), P(1, f->b)))
#define UNARY(op)                                                                                \
    ROW(op##_at, NULL, "V..", 't', NULL, o->ptr = op##_at(P(0, f->a), __FILE__, __LINE__))     \
    ROW(op, NULL, "V", 't', NULL, o->ptr = (op)(P(0, f->a)))
#define UNARY_D(op, v)                                                                           \
    ROW(op##_at, NULL, "Vd..", 't', NULL, o->ptr = op##_at(P(0, f->a), D(1, v), __FILE__, __LINE__)) \
    ROW(op, NULL, "Vd", 't', NULL, o->ptr = (op)(P(0, f->a), D(1, v)))
BINARY(adj_add)
BINARY(adj_sub)
BINARY(adj_mul)
BINARY(adj_div)
UNARY(adj_neg)
UNARY_D(adj_scale, 2.0)
UNARY(adj_exp)
UNARY(adj_log)
UNARY(adj_sqrt)
UNARY(adj_square)
UNARY_D(adj_pow, 1.5)
UNARY(adj_abs)
UNARY(adj_sin)
UNARY(adj_cos)
UNARY(adj_sigmoid)
UNARY(adj_tanh)
UNARY(adj_relu)
UNARY_D(adj_leaky_relu, 0.1)
UNARY_D(adj_elu, 1.0)
UNARY(adj_softplus)
UNARY(adj_gelu)
UNARY(adj_gelu_tanh)
UNARY(adj_silu)
UNARY_D(adj_swish, 1.0)
UNARY(adj_transpose)
UNARY(adj_sum)
UNARY(adj_mean)
UNARY(adj_softmax)
UNARY(adj_log_softmax)
BINARY(adj_mse)
BINARY(adj_bce_with_logits)
BINARY(adj_maximum)
BINARY(adj_minimum)
BINARY(adj_eq)
BINARY(adj_ne)
BINARY(adj_lt)
BINARY(adj_le)
BINARY(adj_gt)
BINARY(adj_ge)
UNARY(adj_detach)
ROW(adj_matmul_at, "adj_matmul", "VVnn..", 't', NULL,
    o->ptr = adj_matmul_at(P(0, f->a), P(1, f->b), N(2, 1), N(3, 0), __FILE__, __LINE__))
ROW(adj_matmul, NULL, "VV", 't', NULL, o->ptr = (adj_matmul)(P(0, f->a), P(1, f->b)))
ROW(adj_matmul_t, "adj_matmul", "VVnn", 't', NULL,
    o->ptr = (adj_matmul_t)(P(0, f->a), P(1, f->b), N(2, 0), N(3, 1)))
ROW(adj_linear_at, NULL, "VVp..", 't', NULL,
    o->ptr = adj_linear_at(P(0, f->a), P(1, f->b), P(2, f->v2), __FILE__, __LINE__))
ROW(adj_linear, NULL, "VVp", 't', NULL, o->ptr = (adj_linear)(P(0, f->a), P(1, f->b), P(2, f->v2)))
ROW(adj_linear_add_at, NULL, "VVpV..", 't', NULL,
    o->ptr = adj_linear_add_at(P(0, f->a), P(1, f->b), P(2, f->v2), P(3, f->a), __FILE__, __LINE__))
ROW(adj_linear_add, NULL, "VVpV", 't', NULL,
    o->ptr = (adj_linear_add)(P(0, f->a), P(1, f->b), P(2, f->v2), P(3, f->a)))
ROW(adj_reshape_at, NULL, "VnY..", 't', NULL,
    o->ptr = adj_reshape_at(P(0, f->a), N(1, 2), Y(2, ((const int64_t[]){1, 4, 1, 1})), __FILE__, __LINE__))
ROW(adj_reshape, NULL, "VnY", 't', NULL,
    o->ptr = (adj_reshape)(P(0, f->a), N(1, 1), Y(2, ((const int64_t[]){4, 1, 1, 1}))))
ROW(adj_sum_axis_at, NULL, "Vn..", 't', NULL, o->ptr = adj_sum_axis_at(P(0, f->a), N(1, 1), __FILE__, __LINE__))
ROW(adj_sum_axis, NULL, "Vn", 't', NULL, o->ptr = (adj_sum_axis)(P(0, f->a), N(1, 1)))
ROW(adj_mean_axis_at, NULL, "Vn..", 't', NULL, o->ptr = adj_mean_axis_at(P(0, f->a), N(1, 1), __FILE__, __LINE__))
ROW(adj_mean_axis, NULL, "Vn", 't', NULL, o->ptr = (adj_mean_axis)(P(0, f->a), N(1, 1)))
ROW(adj_softmax_cross_entropy_at, NULL, "VP..", 't', NULL,
    o->ptr = adj_softmax_cross_entropy_at(P(0, f->a), P(1, labels01), __FILE__, __LINE__))
ROW(adj_softmax_cross_entropy, NULL, "VP", 't', NULL,
    o->ptr = (adj_softmax_cross_entropy)(P(0, f->a), P(1, labels01)))
ROW(adj_add_n_at, NULL, "cP..", 't', NULL,
    adj_var *xs[2] = {f->a, f->b}; o->ptr = adj_add_n_at(N(0, 2), P(1, (adj_var *const *)xs), __FILE__, __LINE__))
ROW(adj_add_n, NULL, "cP", 't', NULL,
    adj_var *xs[2] = {f->a, f->b}; o->ptr = (adj_add_n)(N(0, 2), P(1, (adj_var *const *)xs)))
ROW(adj_embedding_at, NULL, "VV..", 't', NULL, o->ptr = adj_embedding_at(P(0, f->a), P(1, f->i22), __FILE__, __LINE__))
ROW(adj_embedding, NULL, "VV", 't', NULL, o->ptr = (adj_embedding)(P(0, f->a), P(1, f->i2)))
ROW(adj_cross_entropy_at, NULL, "VVn..", 't', NULL,
    o->ptr = adj_cross_entropy_at(P(0, f->a), P(1, f->i2), N(2, -100), __FILE__, __LINE__))
ROW(adj_cross_entropy, NULL, "VVn", 't', NULL, o->ptr = (adj_cross_entropy)(P(0, f->a), P(1, f->i2), N(2, -100)))
ROW(adj_index_select_at, NULL, "VnV..", 't', NULL,
    o->ptr = adj_index_select_at(P(0, f->a), N(1, 0), P(2, f->i2), __FILE__, __LINE__))
ROW(adj_index_select, NULL, "VnV", 't', NULL, o->ptr = (adj_index_select)(P(0, f->a), N(1, -1), P(2, f->i2)))
ROW(adj_gather_at, NULL, "VnV..", 't', NULL, o->ptr = adj_gather_at(P(0, f->a), N(1, 1), P(2, f->i22), __FILE__, __LINE__))
ROW(adj_gather, NULL, "VnV", 't', NULL, o->ptr = (adj_gather)(P(0, f->a), N(1, 0), P(2, f->i22)))
ROW(adj_scatter_add_at, NULL, "VnVV..", 't', NULL,
    o->ptr = adj_scatter_add_at(P(0, f->a), N(1, 1), P(2, f->i22), P(3, f->b), __FILE__, __LINE__))
ROW(adj_scatter_add, NULL, "VnVV", 't', NULL,
    o->ptr = (adj_scatter_add)(P(0, f->a), N(1, 0), P(2, f->i22), P(3, f->b)))
#define VIEW(fn, args, dargs, ...)                                                                \
    ROW(fn##_at, NULL, args "..", 't', NULL, o->ptr = fn##_at(__VA_ARGS__, __FILE__, __LINE__))    \
    ROW(fn, NULL, args, 't', NULL, o->ptr = (fn)(__VA_ARGS__))
VIEW(adj_transpose_axes, "Vnn", 0, P(0, f->a), N(1, 0), N(2, 1))
VIEW(adj_permute, "V.", 0, P(0, f->a), P(1, ((const int[]){1, 0})))
VIEW(adj_slice, "Vnlll", 0, P(0, f->a), N(1, 1), L(2, 0), L(3, 2), L(4, 1))
VIEW(adj_select, "Vnl", 0, P(0, f->a), N(1, 0), L(2, 1))
VIEW(adj_expand, "VnY", 0, P(0, f->v2), N(1, 2), Y(2, ((const int64_t[]){3, 2, 1, 1})))
VIEW(adj_unsqueeze, "Vn", 0, P(0, f->a), N(1, 0))
VIEW(adj_squeeze, "Vn", 0, P(0, H(adj_reshape(f->a, 3, ((const int64_t[]){2, 1, 2})))), N(1, 1))
VIEW(adj_flatten, "Vnn", 0, P(0, f->a), N(1, 0), N(2, 1))
VIEW(adj_sum_axes, "Vc..", 0, P(0, f->a), N(1, 1), ((const int[]){1}), 0)
VIEW(adj_mean_axes, "Vc..", 0, P(0, f->a), N(1, 1), ((const int[]){0}), 1)
VIEW(adj_max_axes, "Vc..", 0, P(0, f->a), N(1, 1), ((const int[]){1}), 0)
VIEW(adj_min_axes, "Vc..", 0, P(0, f->a), N(1, 1), ((const int[]){1}), 0)
VIEW(adj_logsumexp_axes, "Vc..", 0, P(0, f->a), N(1, 1), ((const int[]){1}), 0)
VIEW(adj_var_axes, "Vc...", 0, P(0, f->a), N(1, 1), ((const int[]){1}), 0, 1)
VIEW(adj_max_axis, "Vn", 0, P(0, f->a), N(1, 1))
VIEW(adj_min_axis, "Vn", 0, P(0, f->a), N(1, 1))
VIEW(adj_logsumexp_axis, "Vn", 0, P(0, f->a), N(1, 1))
VIEW(adj_var_axis, "Vn", 0, P(0, f->a), N(1, 1))
VIEW(adj_softmax_axis, "Vn", 0, P(0, f->a), N(1, 0))
VIEW(adj_log_softmax_axis, "Vn", 0, P(0, f->a), N(1, 0))
VIEW(adj_contiguous, "V", 0, P(0, f->a))
VIEW(adj_one_hot, "Vne", 0, P(0, f->i2), N(1, 3), E(2, adj_dtype, ADJ_F32))
/* joins, masks, scans, argmax */
VIEW(adj_where, "VVV", 0, P(0, H(adj_gt(f->a, f->b))), P(1, f->a), P(2, f->v2))
VIEW(adj_masked_fill, "VVd", 0, P(0, f->a), P(1, H(adj_gt(f->v2, f->s))), D(2, -INFINITY))
VIEW(adj_clamp, "Vdd", 0, P(0, f->a), D(1, -1.0), D(2, 2.0))
VIEW(adj_cumsum, "Vn", 0, P(0, f->a), N(1, 1))
VIEW(adj_pad, "VPd", 0, P(0, f->a), P(1, ((const int64_t[]){0, 1, 2, 0})), D(2, 0.5))
ROW(adj_concat_at, NULL, "cPn..", 't', NULL,
    adj_var *xs[2] = {f->a, f->b}; o->ptr = adj_concat_at(N(0, 2), P(1, (adj_var *const *)xs), N(2, 1), __FILE__, __LINE__))
ROW(adj_concat, NULL, "cPn", 't', NULL,
    adj_var *xs[2] = {f->a, f->v2}; o->ptr = (adj_concat)(N(0, 1), P(1, (adj_var *const *)xs), N(2, -1)))
ROW(adj_stack_at, NULL, "cPn..", 't', NULL,
    adj_var *xs[2] = {f->a, f->b}; o->ptr = adj_stack_at(N(0, 2), P(1, (adj_var *const *)xs), N(2, 2), __FILE__, __LINE__))
ROW(adj_stack, NULL, "cPn", 't', NULL,
    adj_var *xs[2] = {f->a, f->b}; o->ptr = (adj_stack)(N(0, 2), P(1, (adj_var *const *)xs), N(2, 0)))
ROW(adj_split_at, NULL, "VncYP..", 't', NULL,
    adj_var *pieces[2]; int r = adj_split_at(P(0, f->a), N(1, 1), N(2, 2), Y(3, ((const int64_t[]){1, 1})), P(4, pieces), __FILE__, __LINE__);
    o->ptr = r < 0 ? NULL : pieces[0])
ROW(adj_split, NULL, "VncYP", 't', NULL,
    adj_var *pieces[2]; int r = (adj_split)(P(0, f->a), N(1, 0), N(2, 2), Y(3, ((const int64_t[]){2, 0})), P(4, pieces));
    o->ptr = r < 0 ? NULL : pieces[1])
ROW(adj_chunk_at, NULL, "VcnP..", 't', NULL,
    adj_var *pieces[3]; int r = adj_chunk_at(P(0, f->a), N(1, 3), N(2, 1), P(3, pieces), __FILE__, __LINE__);
    o->ptr = r < 0 ? NULL : pieces[0])
ROW(adj_chunk, NULL, "VcnP", 't', NULL,
    adj_var *pieces[2]; int r = (adj_chunk)(P(0, f->a), N(1, 2), N(2, 0), P(3, pieces)); o->ptr = r < 0 ? NULL : pieces[1])
VIEW(adj_argmax_axis, "Vn", 0, P(0, f->a), N(1, 1))
VIEW(adj_argmin_axis, "Vn", 0, P(0, f->a), N(1, 0))
VIEW(adj_argmax_axes, "Vc..", 0, P(0, f->a), N(1, 1), ((const int[]){1}), 1)
VIEW(adj_argmin_axes, "Vc..", 0, P(0, f->a), N(1, 1), ((const int[]){0}), 0)
/* ------------------------------------------------------- attention.h */
ROW(adj_scaled_dot_product_attention_at, NULL, "VVVpnd..", 't', NULL,
    o->ptr = adj_scaled_dot_product_attention_at(P(0, f->a), P(1, f->b), P(2, f->m22), P(3, f->b),
                                                 N(4, 1), D(5, 0.5), __FILE__, __LINE__))
ROW(adj_scaled_dot_product_attention, NULL, "VVVpnd", 't', NULL,
    o->ptr = (adj_scaled_dot_product_attention)(P(0, f->a), P(1, f->b), P(2, f->m22), P(3, f->b),
                                                N(4, 0), D(5, 0)))
/* ------------------------------------------------------------- norm.h */
VIEW(adj_layer_norm, "Vnppd", 0, P(0, f->a), N(1, 1), P(2, f->v2), P(3, f->v2), D(4, 1e-5))
VIEW(adj_rms_norm, "Vpd", 0, P(0, f->a), P(1, f->v2), D(2, 1e-6))
VIEW(adj_group_norm, "Vnppd", 0, P(0, f->a), N(1, 2), P(2, f->v2), P(3, f->v2), D(4, 1e-5))
VIEW(adj_batch_norm, "VppPP.dd", 0, P(0, f->a), P(1, f->v2), P(2, f->v2), P(3, f->buf),
     P(4, f->buf + 8), 1, D(6, 0.1), D(7, 1e-5))
/* ---------------------------------------------------------- extend.h */
ROW(adj_op_register, NULL, "Pp", 'g', "-1",
    adj_op_def d = {.name = misuse_op_name(), .arity = 1, .forward = misuse_copy};
    o->num = adj_op_register(P(0, &d), P(1, &f->err)))
ROW(adj_op_find, NULL, "S", 'g', "-1", o->num = adj_op_find(S(0, "tanh")))
ROW(adj_custom_at, "adj_custom", "nnPp..", 't', NULL,
    o->ptr = adj_custom_at(N(0, misuse_op()), N(1, 1), P(2, &f->a), P(3, (const void *)NULL),
                           __FILE__, __LINE__))
ROW(adj_custom, NULL, "nnPp", 't', NULL,
    o->ptr = (adj_custom)(N(0, misuse_op()), N(1, 1), P(2, &f->a), P(3, (const void *)NULL)))
ROW(adj_var_op, NULL, "P", 'g', "0", o->num = adj_var_op(P(0, f->m22)))
ROW(adj_op_name, NULL, "e", 'g', NULL, o->ptr = adj_op_name(E(0, adj_op, ADJ_OP_MUL)); ck_assert_ptr_nonnull(o->ptr))
ROW(adj_op_arity, NULL, "e", 'g', NULL, o->num = adj_op_arity(E(0, adj_op, ADJ_OP_MUL)))
ROW(adj_op_formula, NULL, "e", 'g', NULL, o->ptr = adj_op_formula(E(0, adj_op, ADJ_OP_MUL)); ck_assert_ptr_nonnull(o->ptr))
ROW(adj_op_rule, NULL, "e", 'g', NULL, o->ptr = adj_op_rule(E(0, adj_op, ADJ_OP_MUL)); ck_assert_ptr_nonnull(o->ptr))

/* ------------------------------------------------------------- conv.h */
#define CONV_T(n, ...) H(adj_tensor_f64(f->t, n, ((const int64_t[]){__VA_ARGS__}), zeros))
#define CONV2D_OPTS (&(adj_conv2d_opts){{2, 1}, {1, 0}, {1, 2}, 1})
#define CONVT_OPTS (&(adj_conv_transpose2d_opts){{2, 2}, {1, 0}, {1, 0}, {1, 1}, 1})
#define POOL_OPTS (&(adj_pool2d_opts){{2, 2}, {2, 1}, {1, 0}})
ROW(adj_conv2d_at, NULL, "VVpp..", 't', NULL,
    o->ptr = adj_conv2d_at(P(0, CONV_T(4, 1, 2, 3, 3)), P(1, CONV_T(4, 2, 2, 2, 2)), P(2, CONV_T(1, 2)),
                           P(3, CONV2D_OPTS), __FILE__, __LINE__))
ROW(adj_conv2d, NULL, "VVpp", 't', NULL,
    o->ptr = (adj_conv2d)(P(0, CONV_T(4, 1, 2, 3, 3)), P(1, CONV_T(4, 3, 2, 2, 2)), P(2, CONV_T(1, 3)),
                          P(3, (const adj_conv2d_opts *)NULL)))
ROW(adj_conv1d_at, NULL, "VVpp..", 't', NULL,
    o->ptr = adj_conv1d_at(P(0, CONV_T(3, 2, 2, 5)), P(1, CONV_T(3, 2, 2, 2)), P(2, CONV_T(1, 2)),
                           P(3, (&(adj_conv1d_opts){2, 1, 2, 1})), __FILE__, __LINE__))
ROW(adj_conv1d, NULL, "VVpp", 't', NULL,
    o->ptr = (adj_conv1d)(P(0, CONV_T(3, 2, 2, 5)), P(1, CONV_T(3, 1, 2, 3)), P(2, CONV_T(1, 1)),
                          P(3, (const adj_conv1d_opts *)NULL)))
ROW(adj_conv_transpose2d_at, NULL, "VVpp..", 't', NULL,
    o->ptr = adj_conv_transpose2d_at(P(0, CONV_T(4, 1, 2, 3, 3)), P(1, CONV_T(4, 2, 3, 3, 2)),
                                     P(2, CONV_T(1, 3)), P(3, CONVT_OPTS), __FILE__, __LINE__))
ROW(adj_conv_transpose2d, NULL, "VVpp", 't', NULL,
    o->ptr = (adj_conv_transpose2d)(P(0, CONV_T(4, 1, 2, 3, 3)), P(1, CONV_T(4, 2, 1, 2, 2)),
                                    P(2, CONV_T(1, 1)), P(3, (const adj_conv_transpose2d_opts *)NULL)))
ROW(adj_max_pool2d_at, NULL, "VP..", 't', NULL,
    o->ptr = adj_max_pool2d_at(P(0, CONV_T(4, 2, 1, 4, 3)), P(1, POOL_OPTS), __FILE__, __LINE__))
ROW(adj_max_pool2d, NULL, "VP", 't', NULL,
    o->ptr = (adj_max_pool2d)(P(0, CONV_T(4, 2, 1, 4, 3)), P(1, POOL_OPTS)))
ROW(adj_avg_pool2d_at, NULL, "VP..", 't', NULL,
    o->ptr = adj_avg_pool2d_at(P(0, CONV_T(4, 2, 1, 4, 3)), P(1, POOL_OPTS), __FILE__, __LINE__))
ROW(adj_avg_pool2d, NULL, "VP", 't', NULL,
    o->ptr = (adj_avg_pool2d)(P(0, CONV_T(4, 2, 1, 4, 3)), P(1, POOL_OPTS)))
ROW(adj_adaptive_avg_pool2d_at, NULL, "Vnn..", 't', NULL,
    o->ptr = adj_adaptive_avg_pool2d_at(P(0, CONV_T(4, 1, 2, 4, 3)), N(1, 2), N(2, 1), __FILE__, __LINE__))
ROW(adj_adaptive_avg_pool2d, NULL, "Vnn", 't', NULL,
    o->ptr = (adj_adaptive_avg_pool2d)(P(0, CONV_T(4, 1, 2, 4, 3)), N(1, 3), N(2, 3)))

/* ------------------------------------------------------------ check.h */
ROW(adj_gradcheck, NULL, "PpcPpV", 's', NULL,
    adj_gradcheck_input in = {.ndim = 1, .shape = {3}, .data = zeros};
    o->st = adj_gradcheck(P(0, misuse_fn), P(1, (void *)f), N(2, 1), P(3, &in), P(4, (const adj_gradcheck_opts *)NULL),
                          P(5, &f->rep));
    snprintf(o->msg, sizeof o->msg, "%s", f->rep.message))
ROW(adj_gradcheck_op_cases, NULL, "e", 'g', NULL, o->num = adj_gradcheck_op_cases(E(0, adj_op, ADJ_OP_MATMUL)))
/* second derivatives */
ROW(adj_gradgradcheck, NULL, "PpcPpV", 's', NULL,
    adj_gradcheck_input in = {.ndim = 1, .shape = {3}, .data = zeros};
    o->st = adj_gradgradcheck(P(0, misuse_fn), P(1, (void *)f), N(2, 1), P(3, &in),
                              P(4, (const adj_gradcheck_opts *)NULL), P(5, &f->rep));
    snprintf(o->msg, sizeof o->msg, "%s", f->rep.message))
ROW(adj_gradgradcheck_op, NULL, "een.Vpk", 's', NULL,
    char d[128]; o->st = adj_gradgradcheck_op(E(0, adj_op, ADJ_OP_TANH), E(1, adj_dtype, ADJ_F64), N(2, 0), 3,
                                              P(4, &f->rep), P(5, d), Z(6, sizeof d));
    snprintf(o->msg, sizeof o->msg, "%s", f->rep.message))
ROW(adj_hvp, NULL, "PpcPPP", 's', NULL,
    adj_gradcheck_input in = {.ndim = 1, .shape = {3}, .data = zeros}; double hv[3];
    o->st = adj_hvp(P(0, misuse_fn), P(1, (void *)f), N(2, 1), P(3, &in), P(4, (const double *)zeros), P(5, hv)))
ROW(adj_hessian, NULL, "PpcPPk", 's', NULL,
    adj_gradcheck_input in = {.ndim = 1, .shape = {3}, .data = zeros}; double h[9];
    o->st = adj_hessian(P(0, misuse_fn), P(1, (void *)f), N(2, 1), P(3, &in), P(4, h), Z(5, 9)))
ROW(adj_gradcheck_op, NULL, "een.Vpk", 's', NULL,
    char d[128]; o->st = adj_gradcheck_op(E(0, adj_op, ADJ_OP_TANH), E(1, adj_dtype, ADJ_F64), N(2, 0), 3,
                                          P(4, &f->rep), P(5, d), Z(6, sizeof d));
    snprintf(o->msg, sizeof o->msg, "%s", f->rep.message))

/* --------------------------------------------------------------- nn.h */
ROW(adj_activation_name, NULL, "e", 'g', NULL,
    o->ptr = adj_activation_name(E(0, adj_activation, ADJ_ACT_ELU)); ck_assert_ptr_nonnull(o->ptr))
ROW(adj_activation_parse, NULL, "SP", 's', NULL,
    adj_activation a; o->st = adj_activation_parse(S(0, "leaky-relu"), P(1, &a)))
ROW(adj_activate, NULL, "Ve", 't', NULL, o->ptr = adj_activate(P(0, f->a), E(1, adj_activation, ADJ_ACT_TANH)))
ROW(adj_init_tensor, NULL, "PnedP", 's', NULL,
    o->st = adj_init_tensor(P(0, f->p), N(1, 0), E(2, adj_init, ADJ_INIT_HE_NORMAL), D(3, 0.0), P(4, &f->rng)))
ROW(adj_dense_add, NULL, "Vpll.P", 's', NULL,
    adj_dense d; o->st = adj_dense_add(P(0, f->p), S(1, "fc"), L(2, 2), L(3, 3), 1, P(5, &d));
    snprintf(o->msg, sizeof o->msg, "%s", adj_params_message(f->p)))
ROW(adj_dense_forward, NULL, "PPV", 't', NULL,
    adj_dense d = {.weight = 0, .bias = 1, .in = 2, .out = 2};
    o->ptr = adj_dense_forward(P(0, f->p), P(1, &d), P(2, f->a)))
ROW(adj_dropout, NULL, "Vd.P", 't', NULL, o->ptr = adj_dropout(P(0, f->a), D(1, 0.5), 1, P(3, &f->rng)))
ROW(adj_dropout_mask, NULL, "VPd", 't', NULL, o->ptr = adj_dropout_mask(P(0, f->a), P(1, f->mask), D(2, 0.5)))
ROW(adj_batchnorm_new, NULL, "Pplddv", 'O', NULL,
    adj_batchnorm *bn = adj_batchnorm_new(P(0, f->p), P(1, "bn2"), L(2, 3), D(3, 1e-5), D(4, 0.1), P(5, &f->err));
    o->ptr = bn; adj_batchnorm_free(bn); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_batchnorm_free, NULL, "p", '-', NULL, adj_batchnorm_free(P(0, f->bn)); if (m->arg < 0) f->bn = NULL)
ROW(adj_batchnorm_forward, NULL, "PPV.", 't', NULL,
    o->ptr = adj_batchnorm_forward(P(0, f->bn), P(1, f->p), P(2, f->a), 1))
ROW(adj_batchnorm_features, NULL, "P", 'g', "0", o->num = (double)adj_batchnorm_features(P(0, f->bn)))
ROW(adj_batchnorm_running_mean, NULL, "P", 'g', "null", o->ptr = adj_batchnorm_running_mean(P(0, f->bn)))
ROW(adj_batchnorm_running_var, NULL, "P", 'g', "null", o->ptr = adj_batchnorm_running_var(P(0, f->bn)))
ROW(adj_mlp_config_default, NULL, "", 'g', NULL, adj_mlp_config c = adj_mlp_config_default(); o->num = c.n_sizes)
ROW(adj_mlp_config_set_sizes, NULL, "PcPe", 's', NULL,
    adj_mlp_config c = adj_mlp_config_default();
    o->st = adj_mlp_config_set_sizes(P(0, &c), N(1, 3), P(2, ((const int64_t[]){2, 3, 2})),
                                     E(3, adj_activation, ADJ_ACT_RELU)))
ROW(adj_mlp_count_params, NULL, "cP", 'g', "0",
    o->num = (double)adj_mlp_count_params(N(0, 3), P(1, ((const int64_t[]){4, 5, 1}))))
ROW(adj_mlp_new, NULL, "PPv", 'O', NULL,
    adj_mlp_config c = adj_mlp_config_default();
    ck_assert_int_eq(adj_mlp_config_set_sizes(&c, 2, ((const int64_t[]){2, 2}), ADJ_ACT_RELU), ADJ_OK);
    adj_mlp *x = adj_mlp_new(P(0, &c), P(1, &f->rng), P(2, &f->err)); o->ptr = x; adj_mlp_free(x);
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_mlp_new_with, "adj_mlp_new", "PPpv", 'O', NULL,
    adj_mlp_config c = adj_mlp_config_default();
    ck_assert_int_eq(adj_mlp_config_set_sizes(&c, 2, ((const int64_t[]){2, 2}), ADJ_ACT_RELU), ADJ_OK);
    adj_mlp *x = adj_mlp_new_with(P(0, &c), P(1, &f->rng), P(2, &f->al), P(3, &f->err)); o->ptr = x;
    adj_mlp_free(x); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_mlp_free, NULL, "p", '-', NULL, adj_mlp_free(P(0, f->mlp)); if (m->arg < 0) f->mlp = NULL)
ROW(adj_mlp_get_config, NULL, "P", 'g', "null", o->ptr = adj_mlp_get_config(P(0, f->mlp)))
ROW(adj_mlp_params, NULL, "P", 'g', "null", o->ptr = adj_mlp_params(P(0, f->mlp)))
ROW(adj_mlp_layers, NULL, "P", 'g', "0", o->num = adj_mlp_layers(P(0, f->mlp)))
ROW(adj_mlp_dense, NULL, "Pn", 'g', "null", o->ptr = adj_mlp_dense(P(0, f->mlp), N(1, 1)))
ROW(adj_mlp_batchnorm, NULL, "Pn", 'g', "null", o->ptr = adj_mlp_batchnorm(P(0, f->mlp), N(1, 0)))
ROW(adj_mlp_set_training, NULL, "P.", '-', NULL, adj_mlp_set_training(P(0, f->mlp), 0))
ROW(adj_mlp_training, NULL, "P", 'g', "0", o->num = adj_mlp_training(P(0, f->mlp)))
ROW(adj_mlp_seed_dropout, NULL, "P.", '-', NULL, adj_mlp_seed_dropout(P(0, f->mlp), 4))
ROW(adj_mlp_forward, NULL, "PV", 't', NULL, o->ptr = adj_mlp_forward(P(0, f->mlp), P(1, f->a)))
ROW(adj_mlp_predict, NULL, "PVPkzP", 's', NULL,
    o->st = adj_mlp_predict(P(0, f->mlp), P(1, f->t), P(2, (const void *)zeros), Z(3, 4), Z(4, 3), P(5, f->lab));
    snprintf(o->msg, sizeof o->msg, "%s", adj_tape_message(f->t)))
ROW(adj_mlp_set_input_transform, NULL, "PPP", 's', NULL,
    o->st = adj_mlp_set_input_transform(P(0, f->mlp), P(1, zeros), P(2, ((const double[]){1, 2}))))
ROW(adj_mlp_input_transform, NULL, "Ppp", 'g', "0",
    const double *sh, *sc; o->num = adj_mlp_input_transform(P(0, f->mlp), P(1, &sh), P(2, &sc)))
ROW(adj_mlp_prepare_input, NULL, "PPk", '-', NULL,
    float x[4] = {1, 2, 3, 4}; adj_mlp_prepare_input(P(0, f->mlp), P(1, x), Z(2, 2)))
ROW(adj_argmax_rows, NULL, "PP", 's', NULL, o->st = adj_argmax_rows(P(0, f->a), P(1, f->lab)))
ROW(adj_accuracy, NULL, "PPk", 'g', NULL,
    o->num = adj_accuracy(P(0, labels01), P(1, ((const int32_t[]){0, 0})), Z(2, 2)))
ROW(adj_confusion_matrix, NULL, "PPkcP", 's', NULL,
    o->st = adj_confusion_matrix(P(0, labels01), P(1, labels01), Z(2, 2), N(3, 2), P(4, f->counts)))

/* --------------------------------------------------------------- io.h */
ROW(adj_idx_read, NULL, "SPv", 'e', NULL,
    adj_idx *x = NULL; o->st = adj_idx_read(S(0, f->idxfile), P(1, &x), P(2, &f->err)); adj_idx_free(x);
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_idx_parse, NULL, "PkpPv", 'e', NULL,
    static const uint8_t bytes[] = {0, 0, 8, 1, 0, 0, 0, 2, 7, 9}; adj_idx *x = NULL;
    o->st = adj_idx_parse(P(0, (const void *)bytes), Z(1, sizeof bytes), P(2, "mem"), P(3, &x), P(4, &f->err));
    adj_idx_free(x); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_idx_free, NULL, "p", '-', NULL, adj_idx_free(P(0, f->idx)); if (m->arg < 0) f->idx = NULL)
ROW(adj_idx_get, NULL, "Pz", 'g', "nan", o->num = adj_idx_get(P(0, f->idx), Z(1, 5)))
ROW(adj_idx_write, NULL, "SenYP.v", 'e', NULL,
    o->st = adj_idx_write(S(0, f->out), E(1, adj_idx_type, ADJ_IDX_F32), N(2, 2), Y(3, shape22),
                          P(4, (const void *)zeros), 1, P(6, &f->err));
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_dataset_new, NULL, "zz", 'o', NULL,
    adj_dataset *d = adj_dataset_new(Z(0, 3), Z(1, 2)); o->ptr = d; adj_dataset_free(d))
ROW(adj_dataset_free, NULL, "p", '-', NULL, adj_dataset_free(P(0, adj_dataset_new(1, 1))))
ROW(adj_dataset_from_idx, NULL, "SSPv", 'e', NULL,
    adj_dataset *d = NULL; o->st = adj_dataset_from_idx(S(0, f->idxfile), S(1, f->labels), P(2, &d), P(3, &f->err));
    adj_dataset_free(d); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_dataset_load_idx, NULL, "SSPv", 'e', NULL,
    adj_dataset *d = NULL; o->st = adj_dataset_load_idx(S(0, f->dir), S(1, "train"), P(2, &d), P(3, &f->err));
    adj_dataset_free(d); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_csv_read, NULL, "SpPv", 'e', NULL,
    adj_dataset *d = NULL; o->st = adj_csv_read(S(0, f->csv), P(1, "label"), P(2, &d), P(3, &f->err));
    adj_dataset_free(d); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_dataset_scale, NULL, "Pdd", '-', NULL, adj_dataset_scale(P(0, f->ds), D(1, 0), D(2, 8)))
ROW(adj_dataset_range, NULL, "PPP", '-', NULL,
    adj_dataset_range(P(0, f->ds), P(1, &f->buf[0]), P(2, &f->buf[1])))
ROW(adj_dataset_stats, NULL, "PPP", '-', NULL, adj_dataset_stats(P(0, f->ds), P(1, f->buf), P(2, f->buf + 8)))
ROW(adj_dataset_standardize, NULL, "PPP", '-', NULL,
    adj_dataset_standardize(P(0, f->ds), P(1, zeros), P(2, ((const double[]){1, 2}))))
ROW(adj_dataset_split, NULL, "Pd.PPv", 'e', NULL,
    adj_dataset *tr = NULL, *va = NULL;
    o->st = adj_dataset_split(P(0, f->ds), D(1, 0.25), 3, P(3, &tr), P(4, &va), P(5, &f->err));
    adj_dataset_free(tr); adj_dataset_free(va); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_batcher_new, NULL, "Pz..", 'o', NULL,
    adj_batcher *b = adj_batcher_new(P(0, f->ds), Z(1, 3), 1, 2); o->ptr = b; adj_batcher_free(b))
ROW(adj_batcher_free, NULL, "p", '-', NULL, adj_batcher_free(P(0, f->batcher)); if (m->arg < 0) f->batcher = NULL)
ROW(adj_batcher_epoch, NULL, "P", '-', NULL, adj_batcher_epoch(P(0, f->batcher)))
ROW(adj_batcher_next, NULL, "Ppp", 'g', "0",
    const float *x; const int32_t *y; o->num = (double)adj_batcher_next(P(0, f->batcher), P(1, &x), P(2, &y)))
ROW(adj_batcher_count, NULL, "P", 'g', "0", o->num = (double)adj_batcher_count(P(0, f->batcher)))
ROW(adj_file_write, NULL, "SPkv", 'e', NULL,
    o->st = adj_file_write(S(0, f->out), P(1, (const void *)"abc"), Z(2, 3), P(3, &f->err));
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_files_write, NULL, "cPPPv", 'e', NULL,
    const char *paths[2] = {f->out, f->model}; const void *bytes[2] = {"ab", "cd"}; size_t n[2] = {2, 2};
    o->st = adj_files_write(N(0, 2), P(1, paths), P(2, bytes), P(3, n), P(4, &f->err));
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_model_encode, NULL, "PPPv", 'e', NULL,
    void *b = NULL; size_t n = 0; o->st = adj_model_encode(P(0, f->mlp), P(1, &b), P(2, &n), P(3, &f->err));
    free(b); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_model_save, NULL, "PSv", 'e', NULL,
    o->st = adj_model_save(P(0, f->mlp), S(1, f->out), P(2, &f->err)); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_model_load, NULL, "SPv", 'e', NULL,
    adj_mlp *x = NULL; o->st = adj_model_load(S(0, f->model), P(1, &x), P(2, &f->err)); adj_mlp_free(x);
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_model_load_with, "adj_model_load", "SpPv", 'e', NULL,
    adj_mlp *x = NULL; o->st = adj_model_load_with(S(0, f->model), P(1, &f->al), P(2, &x), P(3, &f->err));
    adj_mlp_free(x); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_model_load_into, NULL, "PSv", 'e', NULL,
    o->st = adj_model_load_into(P(0, f->mlp), S(1, f->model), P(2, &f->err));
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))

/* ------------------------------------------------------- safetensors.h */
ROW(adj_st_dtype_name, NULL, "e", 'g', NULL,
    o->ptr = adj_st_dtype_name(E(0, adj_st_dtype, ADJ_ST_BF16)); ck_assert_ptr_nonnull(o->ptr))
ROW(adj_st_dtype_size, NULL, "e", 'g', NULL, o->num = (double)adj_st_dtype_size(E(0, adj_st_dtype, ADJ_ST_F16)))
ROW(adj_st_read, NULL, "SPv", 'e', NULL,
    const char *path = st_path(f); adj_safetensors *x = NULL;
    o->st = adj_st_read(S(0, path), P(1, &x), P(2, &f->err)); adj_st_free(x);
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_st_parse, NULL, "PkpPv", 'e', NULL,
    adj_st_writer *w = st_writer(); void *b = NULL; size_t n = 0; adj_safetensors *x = NULL;
    ck_assert_int_eq(adj_st_writer_encode(w, &b, &n, NULL), ADJ_OK); adj_st_writer_free(w);
    o->st = adj_st_parse(P(0, (const void *)b), Z(1, n), P(2, "mem"), P(3, &x), P(4, &f->err));
    adj_st_free(x); free(b); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_st_free, NULL, "p", '-', NULL, adj_safetensors *x = st_file(f); adj_st_free(P(0, x)); if (m->arg == 0) adj_st_free(x))
ROW(adj_st_count, NULL, "P", 'g', "0", adj_safetensors *x = st_file(f); o->num = adj_st_count(P(0, x)); adj_st_free(x))
ROW(adj_st_tensor_at, NULL, "Pn", 'g', "null",
    adj_safetensors *x = st_file(f); o->ptr = adj_st_tensor_at(P(0, x), N(1, 0)); adj_st_free(x))
ROW(adj_st_find, NULL, "PS", 'g', "null",
    adj_safetensors *x = st_file(f); o->ptr = adj_st_find(P(0, x), S(1, "w")); adj_st_free(x))
ROW(adj_st_meta_count, NULL, "P", 'g', "0",
    adj_safetensors *x = st_file(f); o->num = adj_st_meta_count(P(0, x)); adj_st_free(x))
ROW(adj_st_meta_key, NULL, "Pn", 'g', "null",
    adj_safetensors *x = st_file(f); o->ptr = adj_st_meta_key(P(0, x), N(1, 0)); adj_st_free(x))
ROW(adj_st_meta_value, NULL, "Pn", 'g', "null",
    adj_safetensors *x = st_file(f); o->ptr = adj_st_meta_value(P(0, x), N(1, 0)); adj_st_free(x))
ROW(adj_st_meta, NULL, "PS", 'g', "null",
    adj_safetensors *x = st_file(f); o->ptr = adj_st_meta(P(0, x), S(1, "k")); adj_st_free(x))
ROW(adj_st_convert, NULL, "PePv", 'e', NULL,
    adj_safetensors *x = st_file(f);
    o->st = adj_st_convert(P(0, adj_st_find(x, "w")), E(1, adj_dtype, ADJ_F32), P(2, (void *)f->buf), P(3, &f->err));
    adj_st_free(x); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_st_writer_new, NULL, "", 'o', NULL, adj_st_writer *w = adj_st_writer_new(); o->ptr = w; adj_st_writer_free(w))
ROW(adj_st_writer_free, NULL, "p", '-', NULL,
    adj_st_writer *w = st_writer(); adj_st_writer_free(P(0, w)); if (m->arg == 0) adj_st_writer_free(w))
ROW(adj_st_writer_add, NULL, "PSenYPv", 'e', NULL,
    adj_st_writer *w = st_writer();
    o->st = adj_st_writer_add(P(0, w), S(1, "x"), E(2, adj_st_dtype, ADJ_ST_F64), N(3, 2), Y(4, shape22),
                              P(5, (const void *)zeros), P(6, &f->err));
    adj_st_writer_free(w); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_st_writer_meta, NULL, "PSSv", 'e', NULL,
    adj_st_writer *w = st_writer(); o->st = adj_st_writer_meta(P(0, w), S(1, "a"), S(2, "b"), P(3, &f->err));
    adj_st_writer_free(w); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_st_writer_encode, NULL, "PPPv", 'e', NULL,
    adj_st_writer *w = st_writer(); void *b = NULL; size_t n = 0;
    o->st = adj_st_writer_encode(P(0, w), P(1, &b), P(2, &n), P(3, &f->err)); free(b);
    adj_st_writer_free(w); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_st_writer_save, NULL, "PSv", 'e', NULL,
    adj_st_writer *w = st_writer(); o->st = adj_st_writer_save(P(0, w), S(1, f->out), P(2, &f->err));
    adj_st_writer_free(w); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))

/* ------------------------------------------------------------- model.h */
ROW(adj_arch_count, NULL, "", 'g', NULL, o->num = adj_arch_count(); ck_assert_int_ge(o->num, 1))
ROW(adj_arch_name, NULL, "n", 'g', NULL, o->ptr = adj_arch_name(N(0, 0)))
ROW(adj_model_new, NULL, "SnPePv", 'O', NULL,
    const char *kv[] = {"sizes", "2,3,2"}; adj_model *x;
    x = adj_model_new(S(0, "mlp"), N(1, 1), P(2, kv), E(3, adj_dtype, ADJ_F64), P(4, &f->rng), P(5, &f->err));
    o->ptr = x; adj_model_free(x); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_model_from_mlp, NULL, "Pv", 'O', NULL,
    adj_mlp_config c = adj_mlp_config_default(); adj_mlp_config_set_sizes(&c, 2, ((int64_t[]){2, 2}), ADJ_ACT_RELU);
    adj_mlp *mm = adj_mlp_new(&c, &f->rng, NULL); adj_model *x = adj_model_from_mlp(P(0, mm), P(1, &f->err));
    if (m->arg == 0) adj_mlp_free(mm); o->ptr = x; adj_model_free(x); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_model_free, NULL, "p", '-', NULL, adj_model *x = model_of(); adj_model_free(P(0, x)); if (m->arg == 0) adj_model_free(x))
ROW(adj_model_arch, NULL, "P", 'g', "null", adj_model *x = model_of(); o->ptr = adj_model_arch(P(0, x)); adj_model_free(x))
ROW(adj_model_dtype, NULL, "P", 'g', "0", adj_model *x = model_of(); o->num = adj_model_dtype(P(0, x)); adj_model_free(x))
ROW(adj_model_config_count, NULL, "P", 'g', "0",
    adj_model *x = model_of(); o->num = adj_model_config_count(P(0, x)); adj_model_free(x))
ROW(adj_model_config_key, NULL, "Pn", 'g', "null",
    adj_model *x = model_of(); o->ptr = adj_model_config_key(P(0, x), N(1, 1)); adj_model_free(x))
ROW(adj_model_config_value, NULL, "Pn", 'g', "null",
    adj_model *x = model_of(); o->ptr = adj_model_config_value(P(0, x), N(1, 1)); adj_model_free(x))
ROW(adj_model_config, NULL, "PS", 'g', "null",
    adj_model *x = model_of(); o->ptr = adj_model_config(P(0, x), S(1, "sizes")); adj_model_free(x))
ROW(adj_model_params, NULL, "P", 'g', "null", adj_model *x = model_of(); o->ptr = adj_model_params(P(0, x)); adj_model_free(x))
ROW(adj_model_param_name, NULL, "Pn", 'g', "null",
    adj_model *x = model_of(); o->ptr = adj_model_param_name(P(0, x), N(1, 1)); adj_model_free(x))
ROW(adj_model_mlp, NULL, "P", 'g', "null", adj_model *x = model_of(); o->ptr = adj_model_mlp(P(0, x)); adj_model_free(x))
/* the dropout generator (trainer) */
/* decoding with a key/value cache (trainer) */
ROW(adj_gpt_cache_new, NULL, "Pv", 'O', NULL,
    adj_model *x = gpt_of(); adj_gpt_cache *c = adj_gpt_cache_new(P(0, x), P(1, &f->err)); o->ptr = c;
    adj_gpt_cache_free(c); adj_model_free(x); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_gpt_cache_free, NULL, "p", '-', NULL,
    adj_model *x = gpt_of(); adj_gpt_cache *c = adj_gpt_cache_new(x, NULL); adj_gpt_cache_free(P(0, c));
    if (m->arg == 0) adj_gpt_cache_free(c); adj_model_free(x))
ROW(adj_gpt_cache_reset, NULL, "p", '-', NULL,
    adj_model *x = gpt_of(); adj_gpt_cache *c = adj_gpt_cache_new(x, NULL); adj_gpt_cache_reset(P(0, c));
    adj_gpt_cache_free(c); adj_model_free(x))
ROW(adj_gpt_cache_length, NULL, "P", 'g', "0",
    adj_model *x = gpt_of(); adj_gpt_cache *c = adj_gpt_cache_new(x, NULL);
    o->num = (double)adj_gpt_cache_length(P(0, (const adj_gpt_cache *)c)); adj_gpt_cache_free(c); adj_model_free(x))
ROW(adj_gpt_cache_step, NULL, "P.Pv", 'e', NULL,
    adj_model *x = gpt_of(); adj_gpt_cache *c = adj_gpt_cache_new(x, NULL); double lg[5];
    o->st = adj_gpt_cache_step(P(0, c), 1, P(2, lg), P(3, &f->err));
    adj_gpt_cache_free(c); adj_model_free(x); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_model_dropout_rng, NULL, "P", 'g', "null",
    adj_model *x = model_of(); o->ptr = adj_model_dropout_rng(P(0, x)); adj_model_free(x))
ROW(adj_model_set_training, NULL, "P.", '-', NULL, adj_model *x = model_of(); adj_model_set_training(P(0, x), 0); adj_model_free(x))
ROW(adj_model_forward, NULL, "PV", 't', NULL,
    adj_model *x = model_of(); o->ptr = adj_model_forward(P(0, x), P(1, f->a)); adj_model_free(x))
ROW(adj_model_write, NULL, "PSv", 'e', NULL,
    adj_model *x = model_of(); o->st = adj_model_write(P(0, x), S(1, f->out), P(2, &f->err)); adj_model_free(x);
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_model_to_bytes, NULL, "PPPv", 'e', NULL,
    adj_model *x = model_of(); void *b = NULL; size_t n = 0;
    o->st = adj_model_to_bytes(P(0, x), P(1, &b), P(2, &n), P(3, &f->err)); free(b); adj_model_free(x);
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_model_read, NULL, "SPv", 'e', NULL,
    const char *path = model_path(f); adj_model *x = NULL;
    o->st = adj_model_read(S(0, path), P(1, &x), P(2, &f->err)); adj_model_free(x);
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_model_load_hf, NULL, "SePv", 'e', NULL,
    const char *dir = hf_path(f); adj_model *x = NULL;
    o->st = adj_model_load_hf(S(0, dir), E(1, adj_dtype, ADJ_F32), P(2, &x), P(3, &f->err)); adj_model_free(x);
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))

/* --------------------------------------------------------------- rnn.h */
ROW(adj_rnn_kind_name, NULL, "e", 'g', NULL,
    o->ptr = adj_rnn_kind_name(E(0, adj_rnn_kind, ADJ_RNN_GRU)); ck_assert_ptr_nonnull(o->ptr))
ROW(adj_rnn_gates, NULL, "e", 'g', NULL, o->num = adj_rnn_gates(E(0, adj_rnn_kind, ADJ_RNN_LSTM)))
ROW(adj_rnn_add, NULL, "PpnellpPv", 'e', NULL,
    adj_rnn l;
    o->st = adj_rnn_add(P(0, f->p), P(1, "r."), N(2, 0), E(3, adj_rnn_kind, ADJ_RNN_LSTM), L(4, 2), L(5, 3),
                        P(6, &f->rng), P(7, &l), P(8, &f->err));
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_rnn_cell, NULL, "PPVVpp", 't', NULL,
    adj_rnn l; adj_var *cn = NULL;
    ck_assert_int_eq(adj_rnn_add(f->p, "r.", 0, ADJ_RNN_GRU, 2, 2, NULL, &l, NULL), ADJ_OK);
    o->ptr = adj_rnn_cell(P(0, f->p), P(1, &l), P(2, f->a), P(3, f->b), P(4, (adj_var *)NULL), P(5, &cn)))
ROW(adj_rnn_sequence, NULL, "PPVppPpp", 'T', NULL,
    adj_rnn l; adj_var *steps[2], *hl, *cl;
    ck_assert_int_eq(adj_rnn_add(f->p, "r.", 0, ADJ_RNN_LSTM, 2, 2, NULL, &l, NULL), ADJ_OK);
    adj_var *x = H(adj_constant_f64(f->t, 3, ((int64_t[]){1, 2, 2}), zeros));
    o->st = adj_rnn_sequence(P(0, f->p), P(1, &l), P(2, x), P(3, (adj_var *)NULL), P(4, (adj_var *)NULL),
                             P(5, steps), P(6, &hl), P(7, &cl)))

ROW(adj_lstm_cell_at, "adj_lstm_cell", "VV..", 't', NULL,
    adj_var *z = H(adj_constant_f64(f->t, 2, ((int64_t[]){2, 8}), zeros));
    o->ptr = adj_lstm_cell_at(P(0, z), P(1, f->a), __FILE__, __LINE__))
ROW(adj_lstm_cell, NULL, "VV", 't', NULL,
    adj_var *z = H(adj_constant_f64(f->t, 2, ((int64_t[]){2, 8}), zeros));
    o->ptr = (adj_lstm_cell)(P(0, z), P(1, f->a)))
ROW(adj_gru_cell_at, "adj_gru_cell", "VVV..", 't', NULL,
    adj_var *x = H(adj_constant_f64(f->t, 2, ((int64_t[]){2, 6}), zeros));
    adj_var *hh = H(adj_constant_f64(f->t, 2, ((int64_t[]){2, 6}), zeros));
    o->ptr = adj_gru_cell_at(P(0, x), P(1, hh), P(2, f->a), __FILE__, __LINE__))
ROW(adj_gru_cell, NULL, "VVV", 't', NULL,
    adj_var *x = H(adj_constant_f64(f->t, 2, ((int64_t[]){2, 6}), zeros));
    adj_var *hh = H(adj_constant_f64(f->t, 2, ((int64_t[]){2, 6}), zeros));
    o->ptr = (adj_gru_cell)(P(0, x), P(1, hh), P(2, f->a)))

/* -------------------------------------------------------------- text.h */
ROW(adj_corpus_text, NULL, "Sd.Pv", 'e', NULL,
    const char *path = text_path(f); adj_corpus *c = NULL;
    o->st = adj_corpus_text(S(0, path), D(1, 0.25), 7, P(3, &c), P(4, &f->err)); adj_corpus_free(c);
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_corpus_tokens, NULL, "SdPv", 'e', NULL,
    const char *path = text_path(f); adj_corpus *c = NULL;
    o->st = adj_corpus_tokens(S(0, path), D(1, 0.25), P(2, &c), P(3, &f->err)); adj_corpus_free(c);
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_corpus_free, NULL, "p", '-', NULL, adj_corpus *c = corpus_of(f); adj_corpus_free(P(0, c)); if (m->arg == 0) adj_corpus_free(c))
ROW(adj_corpus_encode, NULL, "PPkPv", 'e', NULL,
    adj_corpus *c = corpus_of(f);
    o->st = adj_corpus_encode(P(0, c), P(1, "cab"), Z(2, 3), P(3, f->lab), P(4, &f->err)); adj_corpus_free(c);
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_corpus_batch, NULL, "PnzzPPPv", 'e', NULL,
    adj_corpus *c = corpus_of(f); int32_t y[8];
    o->st = adj_corpus_batch(P(0, c), N(1, 0), Z(2, 2), Z(3, 2), P(4, &f->rng), P(5, f->lab), P(6, y), P(7, &f->err));
    adj_corpus_free(c); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))

/* ------------------------------------------------------------- train.h */
ROW(adj_train_task_name, NULL, "e", 'g', NULL,
    o->ptr = adj_train_task_name(E(0, adj_train_task, ADJ_TASK_LM)); ck_assert_ptr_nonnull(o->ptr))
ROW(adj_train_defaults, NULL, "", 'g', NULL, adj_train_config c = adj_train_defaults(); o->num = (double)c.batch)
/* checkpoint state files (trainer) */
ROW(adj_train_state_path, NULL, "SPk", 's', NULL,
    char b[64]; o->st = adj_train_state_path(S(0, "a.safetensors"), P(1, b), Z(2, sizeof b)))
ROW(adj_train, NULL, "PPPpv", 'e', NULL,
    adj_model *x = model_of(); adj_train_data d = {.train = f->ds, .test = f->ds};
    adj_train_config c = adj_train_defaults(); adj_train_result r;
    o->st = adj_train(P(0, x), P(1, &d), P(2, &c), P(3, &r), P(4, &f->err)); adj_model_free(x);
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_train_evaluate, NULL, "PPnpPPv", 'e', NULL,
    adj_model *x = model_of(); adj_train_data d = {.train = f->ds, .test = f->ds}; double a, l;
    o->st = adj_train_evaluate(P(0, x), P(1, &d), N(2, 2), P(3, (const adj_train_config *)NULL), P(4, &a),
                               P(5, &l), P(6, &f->err));
    adj_model_free(x); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))

/* --------------------------------------------------------------- bpe.h */
ROW(adj_bpe_load, NULL, "SPv", 'e', NULL,
    const char *dir = bpe_path(f); adj_bpe *x = NULL;
    o->st = adj_bpe_load(S(0, dir), P(1, &x), P(2, &f->err)); adj_bpe_free(x);
    snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_bpe_parse, NULL, "PkPkPv", 'e', NULL,
    char v[256 * 16 + 64]; size_t nv = bpe_vocab(v, sizeof v); adj_bpe *x = NULL;
    o->st = adj_bpe_parse(P(0, (const char *)v), Z(1, nv), P(2, "a b\n"), Z(3, 4), P(4, &x), P(5, &f->err));
    adj_bpe_free(x); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_bpe_free, NULL, "p", '-', NULL, adj_bpe *x = bpe_of(f); adj_bpe_free(P(0, x)); if (m->arg == 0) adj_bpe_free(x))
ROW(adj_bpe_vocab_size, NULL, "P", 'g', "0", adj_bpe *x = bpe_of(f); o->num = adj_bpe_vocab_size(P(0, x)); adj_bpe_free(x))
ROW(adj_bpe_merge_count, NULL, "P", 'g', "0", adj_bpe *x = bpe_of(f); o->num = adj_bpe_merge_count(P(0, x)); adj_bpe_free(x))
ROW(adj_bpe_token, NULL, "Pnp", 'g', "null",
    adj_bpe *x = bpe_of(f); size_t n = 0; o->ptr = adj_bpe_token(P(0, x), N(1, 256), P(2, &n)); adj_bpe_free(x))
ROW(adj_bpe_find, NULL, "PPk", 'g', "-1",
    adj_bpe *x = bpe_of(f); o->num = adj_bpe_find(P(0, x), P(1, "ab"), Z(2, 2)); adj_bpe_free(x))
ROW(adj_bpe_encode, NULL, "PPkPPv", 'e', NULL,
    adj_bpe *x = bpe_of(f); int32_t *ids = NULL; size_t n = 0;
    o->st = adj_bpe_encode(P(0, x), P(1, "abc ab"), Z(2, 6), P(3, &ids), P(4, &n), P(5, &f->err));
    free(ids); adj_bpe_free(x); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))
ROW(adj_bpe_decode, NULL, "PPkPPv", 'e', NULL,
    adj_bpe *x = bpe_of(f); char *t = NULL; size_t n = 0; static const int32_t ids[] = {256, 99};
    o->st = adj_bpe_decode(P(0, x), P(1, ids), Z(2, 2), P(3, &t), P(4, &n), P(5, &f->err));
    free(t); adj_bpe_free(x); snprintf(o->msg, sizeof o->msg, "%s", f->err.message))

/* ----------------------------------------------------------- forward.h */
ROW(adj_jvp, NULL, "VcPPP", 'T', NULL,
    const double *dir[1] = {((const double[]){1, 0, 0, 1})};
    o->st = adj_jvp(P(0, f->m22), N(1, 1), P(2, &f->a), P(3, dir), P(4, f->buf)))
ROW(adj_jvp_item, NULL, "VVd", 'g', "nan",
    adj_var *y = H(adj_square(f->s)); o->num = adj_jvp_item(P(0, y), P(1, f->s), D(2, 1.0)))
ROW(adj_jvpcheck_op, NULL, "een.V", 's', NULL,
    o->st = adj_jvpcheck_op(E(0, adj_op, ADJ_OP_SIN), E(1, adj_dtype, ADJ_F32), N(2, 0), 5, P(4, &f->jrep));
    snprintf(o->msg, sizeof o->msg, "%s", f->jrep.message))

/* ------------------------------------------------------------ teach.h */
ROW(adj_var_set_name, NULL, "Pp", 'g', "null", o->ptr = adj_var_set_name(P(0, f->a), P(1, "a")))
ROW(adj_var_name, NULL, "P", 'g', "null", o->ptr = adj_var_name(P(0, f->a)))
ROW(adj_tape_find, NULL, "PS", 'g', "null", adj_var_set_name(f->b, "b"); o->ptr = adj_tape_find(P(0, f->t), S(1, "b")))
ROW(adj_tape_print, NULL, "PP", 's', NULL, o->st = adj_tape_print(P(0, f->t), P(1, f->sink)))
ROW(adj_tape_dot, NULL, "PP", 's', NULL, o->st = adj_tape_dot(P(0, f->t), P(1, f->sink)))
ROW(adj_tape_json, NULL, "P.P", 's', NULL, o->st = adj_tape_json(P(0, f->t), 1, P(2, f->sink)))
ROW(adj_backward_explain, NULL, "PP", 's', NULL,
    o->st = adj_backward_explain(P(0, H(adj_sum(f->m22))), P(1, f->sink)))
ROW(adj_tape_html, NULL, "PPP", 's', NULL,
    o->st = adj_tape_html(P(0, f->t), P(1, H(adj_sum(f->m22))), P(2, f->sink)))
ROW(adj_example_html, NULL, "PpP", 's', NULL,
    o->st = adj_example_html(P(0, adj_example_find("e02")), P(1, (const double *)NULL), P(2, f->sink)))
ROW(adj_example_count, NULL, "", 'g', NULL, o->num = adj_example_count(); ck_assert_int_ge(o->num, 15))
ROW(adj_example_at, NULL, "n", 'g', NULL, o->ptr = adj_example_at(N(0, 1)))
ROW(adj_example_find, NULL, "S", 'g', "null", o->ptr = adj_example_find(S(0, "e02")))
ROW(adj_example_knob_index, NULL, "PS", 'g', "-1",
    o->num = adj_example_knob_index(P(0, adj_example_find("e02")), S(1, "x")))
ROW(adj_example_build, NULL, "PVp", 't', NULL,
    o->ptr = adj_example_build(P(0, adj_example_find("e02")), P(1, f->t), P(2, (const double *)NULL)))
ROW(adj_example_run, NULL, "Ppppp", 's', NULL,
    o->st = adj_example_run(P(0, adj_example_find("e02")), P(1, (const double *)NULL), P(2, f->sink),
                            P(3, f->sink), P(4, f->sink)))
