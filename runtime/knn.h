/* k-nearest-neighbour classification of frozen features, as InstDisc / solo-learn evaluate SSL
 * encoders: cosine similarity of L2-normalized features, the k most similar training samples,
 * a vote where each neighbour adds exp(sim / T) to its class (T = 0.07), the class with the
 * largest sum wins.
 *
 * Ties are broken deterministically: between neighbours of equal similarity the one with the
 * lower training index is nearer; between classes of equal vote the lower class index wins. */
#ifndef SSLC_KNN_H
#define SSLC_KNN_H
#include <stdint.h>

#define KNN_DEFAULT_K 20
#define KNN_DEFAULT_T 0.07

/* train [ntrain, dim] and test [ntest, dim] rows, already L2-normalized (feat_l2_normalize);
 * train_y in [0, classes). Similarities come from OpenBLAS sgemm over chunks of test rows, so
 * memory stays at a chunk times ntrain. pred[ntest] receives the predicted classes. Returns 0,
 * or -1 with one line in err (IR_ERRLEN bytes): k outside [1, ntrain], a label outside
 * [0, classes), out of memory. */
int knn_predict(const float *train, const int64_t *train_y, int64_t ntrain, const float *test, int64_t ntest,
                int64_t dim, int classes, int k, double temperature, int64_t *pred, char *err);

/* The vote of one test sample from its similarity to every training sample (sim[ntrain]): the
 * selection and vote above, for one row (exposed for tests). nn_idx/nn_sim (k entries each)
 * are scratch space and receive the neighbours, nearest first; votes[classes] scratch too. */
int64_t knn_vote(const float *sim, const int64_t *train_y, int64_t ntrain, int classes, int k, double temperature,
                 int64_t *nn_idx, float *nn_sim, double *votes);

#endif
