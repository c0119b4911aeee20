r"""Import path of the torch_mist 0.1.5 API (a compatibility alias, see :mod:`mist_reg.utils`):
``from mist_reg.critic import JointCritic``; the critics live in :mod:`mist_reg.nn.critic`."""

from mist_reg.nn.critic import Critic, JointCritic, SeparableCritic, joint_critic, separable_critic

__all__ = ["Critic", "JointCritic", "SeparableCritic", "joint_critic", "separable_critic"]
